// The cordond framing (supervisor/daemon/frame.h) and the Request decoder behind it: exact cases,
// then a bounded fuzz of random mutations of valid frames.
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "proto/cordon.pb.h"
#include "supervisor/daemon/admission.h"
#include "supervisor/daemon/frame.h"

namespace cordon::daemon {
namespace {

namespace api = ::cordon::api::v1;

TEST(DaemonFrame, RoundTripsAcrossArbitrarySplits) {
  std::string stream = EncodeFrame("abc") + EncodeFrame("") + EncodeFrame(std::string(70000, 'x'));
  for (size_t chunk : {1u, 3u, 4u, 5u, 4096u, 1000000u}) {
    FrameDecoder d;
    std::vector<std::string> got;
    for (size_t off = 0; off < stream.size(); off += chunk) {
      d.Append(stream.data() + off, std::min(chunk, stream.size() - off));
      std::string p;
      while (d.Next(&p) == FrameDecoder::Status::kFrame) got.push_back(p);
    }
    ASSERT_EQ(got.size(), 3u) << chunk;
    EXPECT_EQ(got[0], "abc");
    EXPECT_EQ(got[1], "");
    EXPECT_EQ(got[2].size(), 70000u);
    EXPECT_FALSE(d.MidFrame());
  }
}

TEST(DaemonFrame, LengthIsLittleEndian) {
  std::string f = EncodeFrame(std::string(0x0102, 'a'));
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x02);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 0x01);
  EXPECT_EQ(f[2], 0);
  EXPECT_EQ(f[3], 0);
}

TEST(DaemonFrame, OversizedHeaderIsRefusedBeforeBuffering) {
  FrameDecoder d;
  std::string hdr = "GET / HTTP/1.1\r\n";  // "GET " read as a length: 0x20544547
  d.Append(hdr.data(), hdr.size());
  std::string p;
  EXPECT_EQ(d.Next(&p), FrameDecoder::Status::kTooLarge);
  FrameDecoder small(16);
  std::string f = EncodeFrame(std::string(17, 'x'));
  small.Append(f.data(), 4);
  EXPECT_EQ(small.Next(&p), FrameDecoder::Status::kTooLarge);
  std::string ok = EncodeFrame(std::string(16, 'x'));
  FrameDecoder exact(16);
  exact.Append(ok.data(), ok.size());
  EXPECT_EQ(exact.Next(&p), FrameDecoder::Status::kFrame);
}

TEST(DaemonFrame, TruncatedFrameIsMidFrame) {
  FrameDecoder d;
  std::string f = EncodeFrame("hello");
  d.Append(f.data(), f.size() - 1);
  std::string p;
  EXPECT_EQ(d.Next(&p), FrameDecoder::Status::kNeedMore);
  EXPECT_TRUE(d.MidFrame());
  EXPECT_FALSE(d.Ready());  // a partial frame is not ready: the daemon reads more first
  EXPECT_EQ(d.Buffered(), f.size() - 1);
  d.Append(f.data() + f.size() - 1, 1);
  EXPECT_TRUE(d.Ready());
  EXPECT_EQ(d.Next(&p), FrameDecoder::Status::kFrame);
  EXPECT_FALSE(d.Ready());
  FrameDecoder big(16);
  big.Append("\x20\0\0\0", 4);  // 32 > 16: Next() answers kTooLarge at once
  EXPECT_TRUE(big.Ready());
}

// Random mutations of valid Request frames: bit flips, truncation, length rewrites, inserted
// bytes. Nothing may crash; every outcome must be one of the decoder's statuses, and a payload
// that parses must go through admission's normalisation without trouble.
TEST(DaemonFrame, FuzzMutatedRequestFrames) {
  std::vector<std::string> seeds;
  {
    api::Request r;
    r.set_call_id(7);
    auto* s = r.mutable_submit();
    s->set_request_id("req-1");
    s->set_app_id("fuzz");
    s->set_policy("default");
    s->add_argv("/bin/echo");
    s->add_argv("hello");
    s->add_env("LANG=C");
    s->set_cwd("/work");
    s->set_stdio(true);
    seeds.push_back(r.SerializeAsString());
    api::Request w;
    w.mutable_wait()->set_task_id("0123456789abcdef0123456789abcdef");
    w.mutable_wait()->set_timeout_ms(5);
    seeds.push_back(w.SerializeAsString());
    api::Request l;
    l.mutable_list()->set_all(true);
    seeds.push_back(l.SerializeAsString());
  }
  google::protobuf::SetLogHandler(nullptr);  // as cordond does: no stderr line per bad frame
  std::mt19937_64 rng(20240607);
  const auto start = std::chrono::steady_clock::now();
  int frames = 0, too_large = 0, parsed = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string stream = EncodeFrame(seeds[iter % seeds.size()]);
    int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      switch (rng() % 5) {
        case 0:
          if (!stream.empty()) stream[rng() % stream.size()] ^= static_cast<char>(1u << (rng() % 8));
          break;
        case 1:
          stream.resize(rng() % (stream.size() + 1));
          break;
        case 2: {
          uint32_t n = static_cast<uint32_t>(rng());
          if (rng() % 2) n %= 256;
          if (stream.size() >= 4)
            for (int i = 0; i < 4; ++i) stream[i] = static_cast<char>((n >> (8 * i)) & 0xff);
          break;
        }
        case 3:
          stream.insert(rng() % (stream.size() + 1), std::string(1 + rng() % 8, static_cast<char>(rng())));
          break;
        case 4:
          stream += EncodeFrame(seeds[rng() % seeds.size()]);
          break;
      }
    }
    FrameDecoder d;
    size_t off = 0;
    bool dead = false;
    while (off < stream.size() && !dead) {
      size_t n = std::min<size_t>(1 + rng() % 64, stream.size() - off);
      d.Append(stream.data() + off, n);
      off += n;
      std::string p;
      for (;;) {
        auto st = d.Next(&p);
        if (st == FrameDecoder::Status::kNeedMore) break;
        if (st == FrameDecoder::Status::kTooLarge) {
          ++too_large;
          dead = true;
          break;
        }
        ++frames;
        ASSERT_LE(p.size(), kMaxFrameBytes);
        api::Request r;
        if (!r.ParseFromString(p)) continue;
        ++parsed;
        if (r.has_submit()) {
          Submission s;
          s.argv.assign(r.submit().argv().begin(), r.submit().argv().end());
          s.env.assign(r.submit().env().begin(), r.submit().env().end());
          s.cwd = r.submit().cwd();
          EXPECT_EQ(Fingerprint(s).size(), 64u);
        }
      }
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_GT(frames, 0);
  EXPECT_GT(too_large, 0);
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace cordon::daemon
