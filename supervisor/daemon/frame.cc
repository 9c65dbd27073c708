#include "supervisor/daemon/frame.h"

namespace cordon::daemon {

std::string EncodeFrame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  const uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(payload);
  return out;
}

void FrameDecoder::Append(const char* data, size_t len) {
  // Compact before growing, so a long-lived connection's buffer does not creep.
  if (off_ > 0 && off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  } else if (off_ > 65536 && off_ * 2 > buf_.size()) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  buf_.append(data, len);
}

bool FrameDecoder::Ready() const {
  const size_t avail = buf_.size() - off_;
  if (avail < kFrameHeaderBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + off_);
  const uint64_t n = uint64_t(p[0]) | uint64_t(p[1]) << 8 | uint64_t(p[2]) << 16 | uint64_t(p[3]) << 24;
  return n > max_ || avail - kFrameHeaderBytes >= n;
}

FrameDecoder::Status FrameDecoder::Next(std::string* payload) {
  const size_t avail = buf_.size() - off_;
  if (avail < kFrameHeaderBytes) return Status::kNeedMore;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + off_);
  const uint64_t n = uint64_t(p[0]) | uint64_t(p[1]) << 8 | uint64_t(p[2]) << 16 | uint64_t(p[3]) << 24;
  if (n > max_) return Status::kTooLarge;
  if (avail - kFrameHeaderBytes < n) return Status::kNeedMore;
  payload->assign(buf_, off_ + kFrameHeaderBytes, static_cast<size_t>(n));
  off_ += kFrameHeaderBytes + static_cast<size_t>(n);
  if (off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  }
  return Status::kFrame;
}

}  // namespace cordon::daemon
