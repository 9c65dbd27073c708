// supervisor/daemon/frame.h: the framing of the cordond API (docs/api.md): a 4-byte little-endian
// length, then that many bytes of one protobuf message. Pure code, shared by the daemon and the
// `cordon` client; fuzzed in tests/unit/daemon_frame_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cordon::daemon {

inline constexpr size_t kFrameHeaderBytes = 4;
// Largest payload either side accepts. A Submit with a long argv and env fits easily; evidence
// records are a few KiB.
inline constexpr size_t kMaxFrameBytes = 1u << 20;

// The 4-byte header followed by `payload`.
std::string EncodeFrame(std::string_view payload);

// Cuts a byte stream into frame payloads. Feed it whatever recv() returned; it never allocates
// more than the header promises, and refuses a header above `max_bytes` before buffering it.
class FrameDecoder {
 public:
  enum class Status { kFrame, kNeedMore, kTooLarge };

  explicit FrameDecoder(size_t max_bytes = kMaxFrameBytes) : max_(max_bytes) {}

  void Append(const char* data, size_t len);
  // kFrame: `*payload` holds the next complete payload. kNeedMore: nothing complete yet.
  // kTooLarge: the next header announces more than max_bytes; the stream is unusable after it.
  Status Next(std::string* payload);
  // True when bytes of an incomplete frame are buffered (a truncated frame if the peer closes now).
  bool MidFrame() const { return buf_.size() > off_; }
  size_t Buffered() const { return buf_.size() - off_; }
  // True when Next() would not return kNeedMore: a whole frame (or a header above the limit) is
  // buffered.
  bool Ready() const;

 private:
  std::string buf_;
  size_t off_ = 0;  // start of the first unconsumed byte in buf_
  size_t max_;
};

}  // namespace cordon::daemon
