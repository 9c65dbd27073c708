// Unit tests for supervisor/seccomp/profile.{h,cc} and supervisor/sha256.{h,cc}: parsing,
// validation errors (with JSON paths), includes/excludes, the edge-case rules of docs/seccomp.md.
#include "supervisor/seccomp/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <filesystem>
#include <string>

#include "supervisor/sha256.h"
#include "supervisor/sha256_stream.h"

namespace cordon::seccomp {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kShipped = std::string(CORDON_SOURCE_DIR) + "/seccomp-profiles/";
const std::string kPublic = std::string(CORDON_SOURCE_DIR) + "/../shared/profiles/";
const std::string kFixtures = std::string(CORDON_SOURCE_DIR) + "/tests/fixtures/seccomp/";

KernelVersion RunningKernel() {
  utsname u{};
  uname(&u);
  auto v = ParseKernelRelease(u.release);
  return v ? *v : KernelVersion{};
}

LoadOptions Opts(bool strict = false) {
  LoadOptions o;
  o.strict = strict;
  o.source_name = "t.json";
  o.context.kernel = RunningKernel();
  return o;
}

LoadOptions FileOpts(bool strict = false) {
  LoadOptions o = Opts(strict);
  o.source_name.clear();  // LoadProfileFile uses the base name
  return o;
}

Result<Profile> Parse(const std::string& text, bool strict = false) { return ParseProfile(text, Opts(strict)); }

std::string ErrorOf(const std::string& text, bool strict = false) {
  auto p = Parse(text, strict);
  if (p) return "<no error>";
  EXPECT_FALSE(p.error().context.empty());
  return p.error().Message();
}

size_t CountRules(const Profile& p, std::string_view name) {
  size_t n = 0;
  for (const auto& r : p.rules) n += r.syscall == name;
  return n;
}

// ---- sha256 ----

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Lengths around the padding boundary (55/56/64 bytes) must not crash and must differ.
  EXPECT_NE(Sha256Hex(std::string(55, 'x')), Sha256Hex(std::string(56, 'x')));
  EXPECT_NE(Sha256Hex(std::string(63, 'x')), Sha256Hex(std::string(64, 'x')));
}

// The streaming form (the artifact hash of files read in blocks): the same digests, whatever the cut.
TEST(Sha256Test, StreamInPiecesMatchesTheOneShotDigest) {
  Sha256Stream empty;
  EXPECT_EQ(empty.FinalHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string million(1000000, 'a');
  for (size_t piece : {1u, 55u, 64u, 65536u, 1000000u}) {
    Sha256Stream s;
    for (size_t off = 0; off < million.size(); off += piece)
      s.Update(std::string_view(million).substr(off, piece));
    EXPECT_EQ(s.FinalHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") << piece;
  }
  Sha256Stream abc;
  abc.Update("a");
  abc.Update("bc");
  EXPECT_EQ(abc.Final(), Sha256("abc"));
}

// ---- small helpers ----

TEST(ProfileNamesTest, ActionsOpsErrnos) {
  EXPECT_EQ(ParseActionName("SCMP_ACT_KILL"), Action::kKillThread);
  EXPECT_EQ(ParseActionName("SCMP_ACT_NOTIFY"), Action::kNotify);
  EXPECT_EQ(ParseActionName("SCMP_ACT_NOPE"), std::nullopt);
  EXPECT_EQ(ParseCmpOpName("SCMP_CMP_MASKED_EQ"), CmpOp::kMaskedEq);
  EXPECT_EQ(CmpOpName(CmpOp::kLe), "SCMP_CMP_LE");
  EXPECT_EQ(ParseErrnoName("EPERM"), 1);
  EXPECT_EQ(ParseErrnoName("ENOSYS"), 38);
  EXPECT_EQ(ParseErrnoName("EAFNOSUPPORT"), 97);
  EXPECT_EQ(ParseErrnoName("EWHATEVER"), std::nullopt);
}

TEST(ProfileNamesTest, KernelRelease) {
  EXPECT_EQ(ParseKernelRelease("6.1.0-18-amd64").value(), (KernelVersion{6, 1}));
  EXPECT_EQ(ParseKernelRelease("4.8").value(), (KernelVersion{4, 8}));
  EXPECT_EQ(ParseKernelRelease("5.15+").value(), (KernelVersion{5, 15}));
  EXPECT_FALSE(ParseKernelRelease("six"));
  EXPECT_FALSE(ParseKernelRelease("6"));
  EXPECT_FALSE(ParseKernelRelease("6.x"));
  EXPECT_EQ(NativeArchName(), "SCMP_ARCH_X86_64");
}

// ---- shipped and public profiles ----

TEST(ShippedProfilesTest, LoadWithZeroWarnings) {
  for (const char* name : {"default.json", "strict.json"}) {
    for (bool strict : {false, true}) {
      auto p = LoadProfileFile(kShipped + name, FileOpts(strict));
      ASSERT_TRUE(p) << p.error().Message();
      EXPECT_THAT(p->warnings, IsEmpty()) << name;
      EXPECT_EQ(p->name, name);
      EXPECT_EQ(p->sha256.size(), 64u);
      EXPECT_EQ(p->default_action, Action::kErrno);
      EXPECT_EQ(p->default_errno, 1);
      EXPECT_GT(CountRules(*p, "read"), 0u);
    }
  }
  // Also with the default (empty) context: no kernel known, no caps.
  auto p = LoadProfileFile(kShipped + "default.json", {});
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_THAT(p->warnings, IsEmpty());
}

TEST(PublicProfilesTest, LoadMobyAndPodman) {
  for (const char* name : {"moby-default.json", "podman-containers-common.json"}) {
    if (!std::filesystem::exists(kPublic + name)) GTEST_SKIP() << "public profile " << name << " not present";
    auto p = LoadProfileFile(kPublic + name, FileOpts());
    ASSERT_TRUE(p) << p.error().Message();
    EXPECT_GT(p->rules.size(), 300u);
    EXPECT_EQ(p->architectures.front(), "SCMP_ARCH_X86_64");
    // Names newer than this libseccomp become warnings, not errors; in strict mode they fail.
    for (const auto& w : p->warnings) EXPECT_THAT(w, HasSubstr(name));
  }
}

TEST(PublicProfilesTest, MobyIncludesMinKernelAndCaps) {
  if (!std::filesystem::exists(kPublic + "moby-default.json")) GTEST_SKIP() << "moby profile not present";
  // moby allows ptrace for everyone on kernel >= 4.8 (includes.minKernel), and unshare only with
  // CAP_SYS_ADMIN.
  auto opts = FileOpts();
  opts.context.kernel = {4, 8};
  auto new_kernel = LoadProfileFile(kPublic + "moby-default.json", opts);
  ASSERT_TRUE(new_kernel);
  EXPECT_EQ(CountRules(*new_kernel, "ptrace"), 1u);
  EXPECT_EQ(CountRules(*new_kernel, "unshare"), 0u);
  opts.context.kernel = {4, 7};
  auto old_kernel = LoadProfileFile(kPublic + "moby-default.json", opts);
  ASSERT_TRUE(old_kernel);
  EXPECT_EQ(CountRules(*old_kernel, "ptrace"), 0u);
  opts.context.caps = {"CAP_SYS_ADMIN"};
  auto admin = LoadProfileFile(kPublic + "moby-default.json", opts);
  ASSERT_TRUE(admin);
  EXPECT_EQ(CountRules(*admin, "unshare"), 1u);
  // excludes.caps CAP_SYS_ADMIN: the masked clone rule is gone, replaced by an unconditional allow.
  for (const auto& r : admin->rules) {
    if (r.syscall == "clone") {
      EXPECT_THAT(r.conditions, IsEmpty());
    }
  }
  // includes.arches: the s390 clone rule never applies on x86_64.
  for (const auto& r : old_kernel->rules) {
    if (r.syscall == "clone") {
      ASSERT_EQ(r.conditions.size(), 1u);
      EXPECT_EQ(r.conditions[0].index, 0u);
    }
  }
}

TEST(PublicProfilesTest, StrictModeRejectsUnknownNames) {
  if (!std::filesystem::exists(kPublic + "moby-default.json")) GTEST_SKIP() << "moby profile not present";
  auto p = LoadProfileFile(kPublic + "moby-default.json", FileOpts(true));
  if (p) GTEST_SKIP() << "this libseccomp knows every name in the moby profile";
  EXPECT_THAT(p.error().Message(), AllOf(HasSubstr("moby-default.json: syscalls[0].names["),
                                         HasSubstr("unknown syscall"), HasSubstr("strict")));
}

// ---- malformed input: every error names the path and the reason ----

struct BadCase {
  const char* what;
  const char* json;
  const char* path;
  const char* reason;
};

TEST(ProfileErrorsTest, PathAndReason) {
  const BadCase cases[] = {
      {"bad JSON", "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [ }\n}", "line 3, column", "invalid JSON"},
      {"not an object", "[1,2]", "$", "expected an object"},
      {"missing default", "{}", "defaultAction", "missing required field"},
      {"unknown default action", R"({"defaultAction":"SCMP_ACT_MAYBE"})", "defaultAction", "unknown action \"SCMP_ACT_MAYBE\""},
      {"unknown rule action",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["write"],"action":"ALLOW"}]})",
       "syscalls[1].action", "unknown action \"ALLOW\""},
      {"bad op",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]})",
       "syscalls[0].args[0].op", "unknown comparison operator \"SCMP_CMP_XX\""},
      {"arg index 6",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args[0].index", "out of range 0..5"},
      {"negative value",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args[0].value", "non-negative integer"},
      {"value is a string",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":"1","op":"SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args[0].value", "got string"},
      {"names not an array", R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names", "expected an array of strings"},
      {"name not a string", R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read",7],"action":"SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names[1]", "expected a string, got number"},
      {"unknown top-level field", R"({"defaultAction":"SCMP_ACT_ERRNO","defaultActoin":"x"})", "defaultActoin", "unknown field"},
      {"unknown rule field", R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","arg":[]}]})",
       "syscalls[0].arg", "unknown field"},
      {"unknown arg field",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ","mask":3}]}]})",
       "syscalls[0].args[0].mask", "unknown field"},
      {"unknown includes field",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"capabilities":[]}}]})",
       "syscalls[0].includes.capabilities", "unknown field"},
      {"bad errno name", R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":"EWHAT"})", "defaultErrnoRet", "unknown errno name"},
      {"errno out of range", R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000})", "defaultErrnoRet", "0..4095"},
      {"errno and errnoRet disagree",
       R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"errno":"ENOSYS"}]})",
       "syscalls[0].errno", "disagrees with errnoRet"},
      {"bad minKernel",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"new"}}]})",
       "syscalls[0].includes.minKernel", "major.minor"},
      {"bad arch", R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["x86-64"]})", "architectures[0]", "unknown architecture"},
      {"bad flag", R"({"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_FAST"]})", "flags[0]", "unknown seccomp filter flag"},
      {"two comparisons on one argument",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_GT"},{"index":0,"value":9,"op":"SCMP_CMP_LT"}]}]})",
       "syscalls[0].args[1].index", "second comparison on argument 0"},
      {"masked value outside mask",
       R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"valueTwo":2,"op":"SCMP_CMP_MASKED_EQ"}]}]})",
       "syscalls[0].args[0].valueTwo", "outside the mask"},
      {"missing action", R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"]}]})", "syscalls[0].action", "missing"},
  };
  for (const auto& c : cases) {
    std::string msg = ErrorOf(c.json);
    EXPECT_THAT(msg, HasSubstr("t.json: ")) << c.what;
    EXPECT_THAT(msg, HasSubstr(c.path)) << c.what;
    EXPECT_THAT(msg, HasSubstr(c.reason)) << c.what;
  }
}

TEST(ProfileErrorsTest, FixtureFileErrorsNameTheFile) {
  auto p = LoadProfileFile(kFixtures + "bad-op.json", {});
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().Message(), AllOf(HasSubstr("bad-op.json: syscalls[1].args[0].op"), HasSubstr("SCMP_CMP_LESS")));
  auto missing = LoadProfileFile(kFixtures + "does-not-exist.json", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().err, ENOENT);
}

// ---- accepted dialect features ----

TEST(ProfileDialectTest, PodmanErrnoNamesLegacyNameCommentsListener) {
  auto p = Parse(R"({
    "comment": ["anything", {"goes": 1}],
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "defaultErrno": "ENOSYS",
    "listenerMetadata": "m",
    "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"], "comment": "c"}],
    "syscalls": [
      {"names": ["execve", "execveat", "exit", "exit_group", "read"], "action": "SCMP_ACT_ALLOW", "comment": "x",
       "includes": {}, "excludes": {}, "args": []},
      {"name": "write", "action": "SCMP_ACT_ALLOW", "args": null},
      {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": "EACCES", "errno": "EACCES"},
      {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errno": "EROFS"},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ", "comment": "c"}]}
    ]})");
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_EQ(p->default_errno, 38);
  EXPECT_EQ(p->flags, 2u);  // LOG kept, TSYNC dropped with a warning
  EXPECT_EQ(p->architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(CountRules(*p, "write"), 1u);
  const uint64_t zero[6] = {};
  EXPECT_EQ(FindMatchingRule(*p, "mkdir", zero)->errno_ret, EACCES);
  EXPECT_EQ(FindMatchingRule(*p, "rmdir", zero)->errno_ret, EROFS);
  const uint64_t netlink[6] = {16};
  const Rule* r = FindMatchingRule(*p, "socket", netlink);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->errno_ret, EPERM);  // ERRNO without errnoRet: EPERM (runtime-spec)
  EXPECT_EQ(r->path, "syscalls[4]");
  ASSERT_EQ(p->warnings.size(), 2u);
  EXPECT_THAT(p->warnings[0], HasSubstr("flags[1]: ignored"));
  EXPECT_THAT(p->warnings[1], HasSubstr("listenerMetadata: ignored"));
}

// Issue 13 item 7: what runc and crun accept loads; what would change a profile's meaning does not.
TEST(ProfileDialectTest, MetadataKeysLoadWithAWarningNotifyAndAgentsAreRefused) {
  const std::string meta = R"({"_source": "https://example.org/p.json", "version": "1.2", "name": "p",
      "description": {"text": "x"}, "defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": ["execve", "execveat", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}]})";
  auto p = Parse(meta);
  ASSERT_TRUE(p) << p.error().Message();
  ASSERT_EQ(p->warnings.size(), 4u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("t.json: _source: unknown top-level field"), HasSubstr("ignored")));
  // Strict mode keeps refusing them, with the key's path.
  LoadOptions strict;
  strict.strict = true;
  strict.source_name = "t.json";
  auto s = ParseProfile(meta, strict);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().Message(), HasSubstr("t.json: _source: unknown top-level field"));
  // A near-miss of a known field is a typo, not metadata.
  EXPECT_THAT(ErrorOf(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscall": []})"),
              AllOf(HasSubstr("syscall: unknown field; did you mean syscalls?")));
  // Bad values of known fields are still errors with their JSON path.
  EXPECT_THAT(ErrorOf(R"({"name": "x", "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOPE"}]})"),
              HasSubstr("syscalls[0].action: unknown action"));
  // NOTIFY and listenerPath are refused with the reason, never turned into EPERM.
  EXPECT_THAT(ErrorOf(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})"),
              AllOf(HasSubstr("syscalls[0].action: SCMP_ACT_NOTIFY is not supported"), HasSubstr("agent")));
  EXPECT_THAT(ErrorOf(R"({"defaultAction": "SCMP_ACT_NOTIFY"})"), HasSubstr("defaultAction: SCMP_ACT_NOTIFY is not supported"));
  EXPECT_THAT(ErrorOf(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"})"),
              AllOf(HasSubstr("listenerPath: seccomp agents are not supported"), HasSubstr("/run/agent.sock")));
}

TEST(ProfileDialectTest, GoArchNamesInIncludes) {
  auto p = Parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["amd64", "x32"]}},
      {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}},
      {"names": ["chdir"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["SCMP_ARCH_X86_64"]}}]})");
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_EQ(CountRules(*p, "mkdir"), 1u);
  EXPECT_EQ(CountRules(*p, "rmdir"), 0u);
  EXPECT_EQ(CountRules(*p, "chdir"), 0u);
}

TEST(ProfileDialectTest, CapsIncludesAllExcludesAny) {
  const std::string text = R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["execve", "exit_group", "exit", "execveat"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}},
      {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}}]})";
  auto none = Parse(text);
  ASSERT_TRUE(none);
  EXPECT_EQ(CountRules(*none, "mount"), 0u);
  EXPECT_EQ(CountRules(*none, "chroot"), 1u);
  auto o = Opts();
  o.context.caps = {"CAP_SYS_ADMIN"};
  auto one = ParseProfile(text, o);
  EXPECT_EQ(CountRules(*one, "mount"), 0u);   // includes: all listed caps
  EXPECT_EQ(CountRules(*one, "chroot"), 0u);  // excludes: any listed cap
  o.context.caps = {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"};
  EXPECT_EQ(CountRules(*ParseProfile(text, o), "mount"), 1u);
}

// ---- edge-case rules (docs/seccomp.md "Where the spec is silent") ----

constexpr const char* kExecAllowed = R"({"names": ["execve", "execveat", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"})";

std::string WithRules(const std::string& rules, const std::string& def = "SCMP_ACT_ERRNO") {
  return R"({"defaultAction": ")" + def + R"(", "syscalls": [)" + kExecAllowed + "," + rules + "]}";
}

TEST(ProfileEdgeCasesTest, UnknownSyscallWarnsOrFails) {
  const std::string text = WithRules(R"({"names": ["read", "frobnicate"], "action": "SCMP_ACT_ALLOW"})");
  auto p = Parse(text);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("syscalls[1].names[1]"), HasSubstr("unknown syscall \"frobnicate\"")));
  EXPECT_EQ(CountRules(*p, "read"), 1u);
  EXPECT_THAT(ErrorOf(text, true), AllOf(HasSubstr("syscalls[1].names[1]"), HasSubstr("frobnicate")));
}

TEST(ProfileEdgeCasesTest, NamesOfOtherArchesAreKeptSilently) {
  auto p = Parse(WithRules(R"({"names": ["_llseek", "read"], "action": "SCMP_ACT_ALLOW"})"));
  ASSERT_TRUE(p);
  EXPECT_THAT(p->warnings, IsEmpty());
  ASSERT_EQ(CountRules(*p, "_llseek"), 1u);
  for (const auto& r : p->rules) {
    if (r.syscall == "_llseek") {
      EXPECT_LT(r.nr, 0);
    }
  }
}

TEST(ProfileEdgeCasesTest, DuplicateUnconditionalFirstWins) {
  const std::string text = WithRules(R"({"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"},
                                        {"names": ["rmdir", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13})");
  auto p = Parse(text);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("syscalls[2].names[1]"), HasSubstr("syscalls[1].names[0]"),
                                    HasSubstr("duplicate rule for \"mkdir\"")));
  const uint64_t zero[6] = {};
  EXPECT_EQ(FindMatchingRule(*p, "mkdir", zero)->action, Action::kAllow);
  EXPECT_EQ(FindMatchingRule(*p, "rmdir", zero)->errno_ret, 13);
  EXPECT_THAT(ErrorOf(text, true), HasSubstr("duplicate rule for \"mkdir\""));
}

TEST(ProfileEdgeCasesTest, UnconditionalBeatsEarlierConditional) {
  // libseccomp lets the unconditional rule win in either order; the loader makes that explicit.
  auto p = Parse(WithRules(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                              {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97})"));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("syscalls[1].names[0]"), HasSubstr("overridden by the unconditional rule syscalls[2].names[0]")));
  const uint64_t unix_args[6] = {1};
  EXPECT_EQ(FindMatchingRule(*p, "socket", unix_args)->errno_ret, 97);
}

TEST(ProfileEdgeCasesTest, DisjointConditionalRulesWithDifferentActionsAreFine) {
  // Podman's socket rules: AF_NETLINK+NETLINK_AUDIT gets EINVAL, the rest is allowed. Disjoint.
  auto p = Parse(WithRules(R"(
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 9, "op": "SCMP_CMP_NE"}]},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_NE"}]},
      {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967295, "valueTwo": 21522, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 25, "args": [{"index": 1, "value": 255, "valueTwo": 19, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_LT"}]},
      {"names": ["kill"], "action": "SCMP_ACT_TRAP", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_GE"}]})"));
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_THAT(p->warnings, IsEmpty());
  EXPECT_EQ(CountRules(*p, "socket"), 3u);
  const uint64_t audit[6] = {16, 3, 9};
  EXPECT_EQ(FindMatchingRule(*p, "socket", audit)->errno_ret, 22);
  const uint64_t route[6] = {16, 3, 0};
  EXPECT_EQ(FindMatchingRule(*p, "socket", route)->action, Action::kAllow);
}

TEST(ProfileEdgeCasesTest, OverlappingConditionalRulesWithDifferentActionsKeepTheFirst) {
  const std::string text = WithRules(R"(
      {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_GT"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]})");
  auto p = Parse(text);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 2u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("syscalls[2].names[0]"), HasSubstr("may overlap syscalls[1].names[0]")));
  EXPECT_THAT(p->warnings[1], AllOf(HasSubstr("syscalls[3].names[0]"), HasSubstr("conflicting rule")));
  EXPECT_EQ(CountRules(*p, "kill"), 1u);
  EXPECT_THAT(ErrorOf(text, true), HasSubstr("conflicting rule for \"kill\""));
}

TEST(ProfileEdgeCasesTest, SameActionAlternativesAreOredWithoutWarning) {
  auto p = Parse(WithRules(R"(
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]})"));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);  // the exact repeat is a duplicate
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("syscalls[3].names[0]"), HasSubstr("same conditions and action as syscalls[2].names[0]")));
  EXPECT_EQ(CountRules(*p, "personality"), 2u);
}

TEST(ProfileEdgeCasesTest, RuleEqualToDefaultIsSkipped) {
  auto p = Parse(WithRules(R"({"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                              {"names": ["umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})"));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("syscalls[1]"), HasSubstr("equals defaultAction")));
  EXPECT_EQ(CountRules(*p, "mount"), 0u);
  EXPECT_EQ(CountRules(*p, "umount2"), 1u);
}

TEST(ProfileEdgeCasesTest, DeniedExecWarns) {
  auto p = Parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "exit", "exit_group", "execveat"], "action": "SCMP_ACT_ALLOW"}]})");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], AllOf(HasSubstr("defaultAction"), HasSubstr("execve is not allowed")));
  auto killed = Parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_KILL"}]})");
  ASSERT_TRUE(killed);
  ASSERT_EQ(killed->warnings.size(), 1u);
  EXPECT_THAT(killed->warnings[0], AllOf(HasSubstr("syscalls[0]"), HasSubstr("execveat is not allowed")));
}

TEST(ProfileEdgeCasesTest, ErrnoRetOnNonErrnoActionIsIgnored) {
  auto p = Parse(WithRules(R"({"names": ["read"], "action": "SCMP_ACT_LOG", "errnoRet": 5})"));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], HasSubstr("syscalls[1].errnoRet: ignored"));
}

TEST(ProfileEdgeCasesTest, InvalidEntriesFailEvenWhenExcludedByContext) {
  auto msg = ErrorOf(WithRules(R"({"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]},
                                   "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]})"));
  EXPECT_THAT(msg, HasSubstr("syscalls[1].args[0].index"));
}

TEST(ProfileEdgeCasesTest, HashIsOfRawBytes) {
  const std::string text = WithRules(R"({"names": ["read"], "action": "SCMP_ACT_ALLOW"})");
  auto p = Parse(text);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->sha256, Sha256Hex(text));
  auto q = Parse(text + " ");
  EXPECT_NE(p->sha256, q->sha256);
}

}  // namespace
}  // namespace cordon::seccomp
