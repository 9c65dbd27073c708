#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <tuple>
#include <vector>

#include "common/protocol.h"
#include "common/scm_rights.h"
#include "common/wire.h"

// Every allocation of this test binary goes through here, so that a test can see the largest one a
// decoder made (g_track_allocs on around the call).
namespace {
bool g_track_allocs = false;
size_t g_largest_alloc = 0;
}  // namespace

[[gnu::noinline]] void* operator new(size_t n) {
  if (g_track_allocs && n > g_largest_alloc) g_largest_alloc = n;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace cordon {
namespace {

proto::LaunchSpec Sample() {
  proto::LaunchSpec s;
  s.flags = proto::kFlagRootful;
  s.host_uid = 600001;
  s.host_gid = 600002;
  s.tmpfs_bytes = 123456789;
  s.memory_bytes = 987654321;
  s.bound_fds = 2;
  s.hostname = "h";
  s.cwd = "/work/sub";
  s.argv = {"python3", "-c", std::string("print(1)\0x", 10)};
  s.envp = {"A=1", "PATH=/bin"};
  s.mounts = {{proto::MountKind::kRoBind, 0, "/usr", "/usr"}, {proto::MountKind::kFile, 0644, "data\n", "/etc/x"}};
  s.proxy_port = 3128;
  s.transparent = {{0x7f4d0001, 5432}, {0x7f000001, 8080}};
  return s;
}

TEST(Protocol, LaunchSpecRoundTrip) {
  proto::LaunchSpec in = Sample(), out;
  std::string bytes = proto::EncodeLaunchSpec(in);
  ASSERT_TRUE(proto::DecodeLaunchSpec(bytes.data(), bytes.size(), &out));
  EXPECT_EQ(out.flags, in.flags);
  EXPECT_EQ(out.host_uid, in.host_uid);
  EXPECT_EQ(out.host_gid, in.host_gid);
  EXPECT_EQ(out.tmpfs_bytes, in.tmpfs_bytes);
  EXPECT_EQ(out.memory_bytes, in.memory_bytes);
  EXPECT_EQ(out.bound_fds, in.bound_fds);
  EXPECT_EQ(out.cwd, in.cwd);
  EXPECT_EQ(out.argv, in.argv);
  EXPECT_EQ(out.envp, in.envp);
  ASSERT_EQ(out.mounts.size(), 2u);
  EXPECT_EQ(out.mounts[1].source, "data\n");
  EXPECT_EQ(out.mounts[1].mode, 0644u);
  ASSERT_EQ(out.transparent.size(), 2u);
  EXPECT_EQ(out.transparent[0].addr, 0x7f4d0001u);
  EXPECT_EQ(out.transparent[1].port, 8080u);
}

// Transparent egress listeners are unicast addresses with a port (loopback, or a literal the shim
// puts on lo), only beside the proxy.
TEST(Protocol, TransparentListenersOnNonUnicastAddressesAreRejected) {
  for (auto [addr, port, proxy] : {std::tuple{0x00000000u, 80u, 3128u}, std::tuple{0xe0000001u, 80u, 3128u},
                                   std::tuple{0xffffffffu, 80u, 3128u}, std::tuple{0x7f000001u, 0u, 3128u},
                                   std::tuple{0x7f000001u, 140000u, 3128u}, std::tuple{0x7f000001u, 80u, 0u}}) {
    proto::LaunchSpec in = Sample(), out;
    in.proxy_port = proxy;
    in.transparent = {{addr, port}};
    std::string bytes = proto::EncodeLaunchSpec(in);
    EXPECT_FALSE(proto::DecodeLaunchSpec(bytes.data(), bytes.size(), &out)) << addr << ":" << port;
  }
  proto::LaunchSpec in = Sample(), out;
  in.transparent = {{0x0a010203u, 5432u}, {0x7f000035u, 53u | proto::kTransparentUdp}};  // a literal; DNS
  std::string bytes = proto::EncodeLaunchSpec(in);
  ASSERT_TRUE(proto::DecodeLaunchSpec(bytes.data(), bytes.size(), &out));
  EXPECT_EQ(out.transparent.at(0).addr, 0x0a010203u);
  EXPECT_EQ(out.transparent.at(1).port, 53u | proto::kTransparentUdp);
}

TEST(Protocol, EveryTruncationAndTrailingByteIsRejected) {
  std::string bytes = proto::EncodeLaunchSpec(Sample());
  proto::LaunchSpec out;
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(proto::DecodeLaunchSpec(bytes.data(), n, &out)) << n;
  std::string longer = bytes + "x";
  EXPECT_FALSE(proto::DecodeLaunchSpec(longer.data(), longer.size(), &out));
}

// Offsets of every length and count field in an encoded LaunchSpec, found by walking it the way
// DecodeLaunchSpec reads it (the field layout of common/protocol.cc).
std::vector<size_t> LengthFieldOffsets(const std::string& bytes) {
  std::vector<size_t> at;
  wire::Reader r(bytes.data(), bytes.size());
  auto here = [&] { return bytes.size() - r.Remaining(); };
  auto str = [&] { at.push_back(here()); (void)r.Str(); };
  auto list = [&] {
    at.push_back(here());
    uint32_t n = r.U32();
    for (uint32_t i = 0; i < n && r.ok(); ++i) str();
  };
  for (int i = 0; i < 7; ++i) (void)r.U32();  // magic, version, flags, host uid/gid, task uid/gid
  (void)r.U64();                               // tmpfs_bytes
  for (int i = 0; i < 3; ++i) (void)r.U32();  // setup timeout, bound fds, seccomp flags
  for (int i = 0; i < 4; ++i) (void)r.U64();  // rlimits
  (void)r.U32();                               // proxy port
  at.push_back(here());                        // transparent listeners: count, then (addr, port) each
  uint32_t listeners = r.U32();
  for (uint32_t i = 0; i < listeners && r.ok(); ++i) (void)r.U64();
  str();                                       // hostname
  str();                                       // cwd
  list();                                      // argv
  list();                                      // envp
  at.push_back(here());
  uint32_t mounts = r.U32();
  for (uint32_t i = 0; i < mounts && r.ok(); ++i) {
    (void)r.U32();
    (void)r.U32();
    str();
    str();
  }
  at.push_back(here());  // binds (none in the sample)
  (void)r.U32();
  (void)r.U64();         // memory_bytes
  EXPECT_TRUE(r.ok() && r.AtEnd()) << "the walk does not match the encoding";
  return at;
}

// Every length or count field set to 0xffffffff is refused, and decoding never allocates more than
// the input can justify: a count is only honest if each entry still has its 4-byte length left, so
// a vector reserved for it takes at most sizeof(std::string) / 4 bytes per input byte.
TEST(Protocol, HugeCountsAreRejectedWithoutAllocating) {
  const std::string bytes = proto::EncodeLaunchSpec(Sample());
  const size_t bound = bytes.size() * (sizeof(std::string) / sizeof(uint32_t));
  const std::vector<size_t> fields = LengthFieldOffsets(bytes);
  ASSERT_EQ(fields.size(), 16u);  // transparent, hostname, cwd, argv + 3, envp + 2, mounts + 2 x 2, binds
  proto::LaunchSpec out;
  for (size_t off : fields) {
    std::string b = bytes;
    std::memset(b.data() + off, 0xff, sizeof(uint32_t));
    g_largest_alloc = 0;
    g_track_allocs = true;
    const bool accepted = proto::DecodeLaunchSpec(b.data(), b.size(), &out);
    g_track_allocs = false;
    EXPECT_FALSE(accepted) << "a length of 0xffffffff at offset " << off << " was accepted";
    EXPECT_LE(g_largest_alloc, bound) << "offset " << off;
  }
  // Any one byte flipped: no crash, no allocation beyond the bound, and what is accepted is exactly
  // what those bytes say (re-encoding it gives them back).
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] = static_cast<char>(0xff);
    g_largest_alloc = 0;
    g_track_allocs = true;
    const bool accepted = proto::DecodeLaunchSpec(b.data(), b.size(), &out);
    g_track_allocs = false;
    EXPECT_LE(g_largest_alloc, bound) << "byte " << i;
    if (accepted) {
      EXPECT_EQ(proto::EncodeLaunchSpec(out), b) << "byte " << i;
    }
  }
}

TEST(Protocol, EmptyArgvOrRelativeCwdIsRejected) {
  proto::LaunchSpec s = Sample(), out;
  s.argv.clear();
  std::string b = proto::EncodeLaunchSpec(s);
  EXPECT_FALSE(proto::DecodeLaunchSpec(b.data(), b.size(), &out));
  s = Sample();
  s.cwd = "work";
  b = proto::EncodeLaunchSpec(s);
  EXPECT_FALSE(proto::DecodeLaunchSpec(b.data(), b.size(), &out));
}

// A pooled sandbox's spec has no argv yet (it comes with kStart); a cold one must have one.
TEST(Protocol, PooledSpecHasNoArgvAndColdSpecMust) {
  proto::LaunchSpec s = Sample(), out;
  s.flags |= proto::kFlagPooled;
  std::string b = proto::EncodeLaunchSpec(s);
  EXPECT_FALSE(proto::DecodeLaunchSpec(b.data(), b.size(), &out)) << "pooled spec with an argv";
  s.argv.clear();
  b = proto::EncodeLaunchSpec(s);
  ASSERT_TRUE(proto::DecodeLaunchSpec(b.data(), b.size(), &out));
  EXPECT_TRUE(out.flags & proto::kFlagPooled);
  EXPECT_TRUE(out.argv.empty());
}

TEST(Protocol, TaskPartRoundTripAndRejections) {
  proto::TaskPart in{"/work/x", {"sh", "-c", std::string("a\0b", 3)}, {"A=1"}}, out;
  std::string b = proto::EncodeTaskPart(in);
  ASSERT_TRUE(proto::DecodeTaskPart(b.data(), b.size(), &out));
  EXPECT_EQ(out.cwd, in.cwd);
  EXPECT_EQ(out.argv, in.argv);
  EXPECT_EQ(out.envp, in.envp);
  for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(proto::DecodeTaskPart(b.data(), n, &out)) << n;
  std::string longer = b + "x";
  EXPECT_FALSE(proto::DecodeTaskPart(longer.data(), longer.size(), &out));
  for (size_t i = 0; i < b.size(); ++i) {  // no crash, no huge allocation on any corrupted byte
    std::string c = b;
    c[i] = static_cast<char>(0xff);
    (void)proto::DecodeTaskPart(c.data(), c.size(), &out);
  }
  for (proto::TaskPart bad : {proto::TaskPart{"/work", {}, {}}, proto::TaskPart{"/work", {""}, {}},
                              proto::TaskPart{"work", {"sh"}, {}}, proto::TaskPart{"", {"sh"}, {}}}) {
    std::string e = proto::EncodeTaskPart(bad);
    EXPECT_FALSE(proto::DecodeTaskPart(e.data(), e.size(), &out)) << bad.cwd;
  }
}

size_t OpenFdCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(ScmRights, PassesFdsAndRejectsTruncation) {
  int sp[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd a(sp[0]), b(sp[1]);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  int fds[] = {r.Get(), w.Get()};
  ASSERT_TRUE(SendMsg(a.Get(), "hi", 2, fds, 2));
  char buf[8];
  auto got = RecvMsg(b.Get(), buf, sizeof buf, 2);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->len, 2u);
  ASSERT_EQ(got->fds.size(), 2u);
  ASSERT_EQ(::write(got->fds[1].Get(), "x", 1), 1);
  char c;
  ASSERT_EQ(::read(r.Get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // More fds than the receiver accepts: an error, and the fds are closed, not leaked (this
  // process has as many open fds after the refused message as before it arrived).
  ASSERT_TRUE(SendMsg(a.Get(), "hi", 2, fds, 2));
  const size_t open_before = OpenFdCount();
  auto too_many = RecvMsg(b.Get(), buf, sizeof buf, 1);
  EXPECT_FALSE(too_many);
  EXPECT_EQ(OpenFdCount(), open_before) << "the refused message's fds stayed open";
  // A message larger than the buffer is refused (MSG_TRUNC), not silently cut.
  ASSERT_TRUE(SendMsg(a.Get(), "0123456789", 10, nullptr, 0));
  auto trunc = RecvMsg(b.Get(), buf, 4, 0);
  EXPECT_FALSE(trunc);
  // EOF.
  a.Reset();
  auto eof = RecvMsg(b.Get(), buf, sizeof buf, 0);
  ASSERT_TRUE(eof);
  EXPECT_TRUE(eof->eof);
}

}  // namespace
}  // namespace cordon
