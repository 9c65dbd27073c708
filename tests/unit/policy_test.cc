#include <gtest/gtest.h>

#include "supervisor/policy.h"
#include "supervisor/seccomp/filter.h"

namespace cordon {
namespace {

Result<Policy> P(const std::string& j) { return ParsePolicy(j, "test.json"); }

TEST(Policy, MinimalPolicyGetsDefaults) {
  auto p = P(R"({"name": "min", "version": 3})");
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_EQ(p->name, "min");
  EXPECT_EQ(p->version, 3u);
  EXPECT_EQ(p->role, "min");
  EXPECT_EQ(p->seccomp_profile, "default");
  EXPECT_EQ(p->limits.tmpfs_bytes, 64u << 20);
  // Bounded unless asked: an omitted limit gets the default budget.
  EXPECT_EQ(p->limits.max_wall_ms, 600000u);
  EXPECT_EQ(p->limits.max_cpu_ms, 300000u);
  EXPECT_EQ(p->limits.memory_bytes, 1u << 30);
  EXPECT_EQ(p->limits.pids, 512u);
  EXPECT_EQ(p->limits.nofile, 1024u);
  EXPECT_EQ(p->limits.output_bytes, 0u);
  EXPECT_TRUE(p->env.allow.empty());
  EXPECT_EQ(p->sha256.size(), 64u);
}

// docs/landlock.md: the policy-side permission for landlock mode, false unless the file says true.
TEST(Policy, AllowLandlockModeIsOptInAndBoolean) {
  EXPECT_FALSE(P(R"({"name": "a", "version": 1})")->allow_landlock_mode);
  EXPECT_TRUE(P(R"({"name": "a", "version": 1, "allow_landlock_mode": true})")->allow_landlock_mode);
  auto bad = P(R"({"name": "a", "version": 1, "allow_landlock_mode": 1})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().Message().find("allow_landlock_mode: expected true or false, got number"), std::string::npos)
      << bad.error().Message();
}

TEST(Policy, ZeroLiftsALimitOnlyWhereAllowed) {
  auto p = P(R"({"name": "x", "version": 1, "limits": {"max_wall_ms": 0, "max_cpu_ms": 0, "memory_bytes": 0, "pids": 0}})");
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_EQ(p->limits.max_wall_ms, 0u);
  EXPECT_EQ(p->limits.max_cpu_ms, 0u);
  EXPECT_EQ(p->limits.memory_bytes, 0u);
  EXPECT_EQ(p->limits.pids, 0u);
  EXPECT_EQ(p->limits.nofile, 1024u);
  auto nofile = P(R"({"name": "x", "version": 1, "limits": {"nofile": 0}})");
  ASSERT_FALSE(nofile);
  EXPECT_NE(nofile.error().Message().find("limits.nofile: must be between 16"), std::string::npos);
  auto mem = P(R"({"name": "x", "version": 1, "limits": {"memory_bytes": 1000}})");
  ASSERT_FALSE(mem);
  EXPECT_NE(mem.error().Message().find("must be 0 (no limit) or between 4194304"), std::string::npos);
}

TEST(Policy, LimitOverridesUseThePolicyRules) {
  auto p = P(R"({"name": "x", "version": 1})");
  ASSERT_TRUE(p);
  ASSERT_TRUE(OverrideLimit(&*p, "memory_bytes=none"));
  ASSERT_TRUE(OverrideLimit(&*p, "pids=64"));
  EXPECT_EQ(p->limits.memory_bytes, 0u);
  EXPECT_EQ(p->limits.pids, 64u);
  EXPECT_EQ(p->limit_overrides, (std::vector<std::string>{"memory_bytes=0", "pids=64"}));
  for (const char* bad : {"nofile=0", "pids=1", "cpu=5", "pids", "pids=-1", "pids=1k", "tmpfs_bytes=none"})
    EXPECT_FALSE(OverrideLimit(&*p, bad)) << bad;
  EXPECT_NE(OverrideLimit(&*p, "cpu=5").error().Message().find("unknown limit 'cpu'"), std::string::npos);
}

TEST(Policy, ErrorsNameTheFieldPath) {
  struct Case { const char* json; const char* expect; } cases[] = {
      {R"({"version": 1})", "name: required field is missing"},
      {R"({"name": "x"})", "version: required field is missing"},
      {R"({"name": 5, "version": 1})", "name: expected a string, got number"},
      {R"({"name": "x", "version": -1})", "version: expected a non-negative integer"},
      {R"({"name": "x", "version": 1, "limits": {"max_wall_ms": 1.5}})", "limits.max_wall_ms: expected a non-negative integer, got number"},
      {R"({"name": "x", "version": 1, "limits": {"cpu": 1}})", "limits.cpu: unknown field"},
      {R"({"name": "x", "version": 1, "limits": {"tmpfs_bytes": 10}})", "limits.tmpfs_bytes: must be between"},
      {R"({"name": "x", "version": 1, "env": {"allow": "*"}})", "env.allow: expected an array of strings"},
      {R"({"name": "x", "version": 1, "env": {"set": {"A": 1}}})", "env.set.A: expected a string, got number"},
      {R"({"name": "x", "version": 1, "env": {"set": {"A=B": "1"}}})", "env.set.A=B: not a valid variable name"},
      {R"({"name": "x", "version": 1, "mounts": ["relative"]})", "mounts[0]: 'relative' must be an absolute path"},
      {R"({"name": "x", "version": 1, "mounts": ["/work/x"]})", "mounts[0]: target '/work/x' /work is built by Cordon"},
      {R"({"name": "x", "version": 1, "mounts": ["/usr/../etc"]})", "mounts[0]: '/usr/../etc' must be a normalised path"},
      {R"({"name": "x", "version": 1, "mounts": ["/proc/sys"]})", "/proc is built by Cordon"},
      {R"({"name": "x", "version": 1, "mounts": ["/"]})", "cannot mount the host's root"},
      {R"({"name": "x", "version": 1, "mounts": [{"target": "/opt/x"}]})", "mounts[0].source: required field is missing"},
      {R"({"name": "x", "version": 1, "mounts": [{"source": "/srv/x", "target": "/work/x"}]})", "mounts[0]: target '/work/x' /work is built by Cordon"},
      {R"({"name": "x", "version": 1, "mounts": [{"source": "/srv/x", "dest": "/x"}]})", "mounts[0].dest: unknown field"},
      {R"({"name": "x", "version": 1, "mounts": [7]})", "mounts[0]: expected a path or"},
      {R"({"name": "x", "version": 1, "extra": true})", "extra: unknown field"},
      {R"([1, 2])", "expected an object, got array"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a b", "kind": "dir", "source": "/x", "target": "/y"}]})", "bindings[0].name: 'a b' may only hold"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "disk", "source": "/x"}]})", "bindings[0].kind: 'disk' is not one of"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "dir", "target": "/y"}]})", "bindings[0].source: required for kind dir"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "dir", "source": "/x"}]})", "bindings[0].target: required for kind dir"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "socket", "source": "/s", "target": "/t"}]})", "bindings[0].target: kind socket is handed over as an fd only"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "state", "source": "/s", "target": "/t"}]})", "a state binding has no source"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "pipe", "source": "/p"}]})", "a pipe binding comes from the caller"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "dir", "source": "/x", "target": "/y", "access": "wo"}]})", "bindings[0].access: 'wo' is not ro or rw"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "dir", "source": "/x", "target": "/tmp/y"}]})", "bindings[0].target: '/tmp/y' /tmp is built by Cordon"},
      {R"({"name": "x", "version": 1, "bindings": [{"name": "a", "kind": "dir", "source": "/x", "target": "/y"}, {"name": "a", "kind": "dir", "source": "/z", "target": "/w"}]})", "bindings[1].name: 'a' is already bindings[0]"},
      {R"({"name": "x", "version": 1, "data_domain": "eu", "bindings": [{"name": "a", "kind": "dir", "source": "/x", "target": "/y"}]})", "binding 'a' is in data domain '' but policy 'x' is bound to 'eu'"},
      {R"({"name": "x", )", "not valid JSON"},
  };
  for (const auto& c : cases) {
    auto p = P(c.json);
    ASSERT_FALSE(p) << c.json;
    EXPECT_NE(p.error().context.find(c.expect), std::string::npos) << c.json << " -> " << p.error().context;
    EXPECT_NE(p.error().context.find("policy test.json"), std::string::npos);
    EXPECT_FALSE(p.error().hint.empty());
  }
}

TEST(Policy, EnvAllowPatterns) {
  PolicyEnv env;
  env.allow = {"LANG", "LC_*"};
  EXPECT_TRUE(EnvNameAllowed(env, "LANG"));
  EXPECT_TRUE(EnvNameAllowed(env, "LC_ALL"));
  EXPECT_FALSE(EnvNameAllowed(env, "LANGUAGE"));
  EXPECT_FALSE(EnvNameAllowed(env, "LD_PRELOAD"));
  env.allow = {"*"};
  EXPECT_TRUE(EnvNameAllowed(env, "ANYTHING"));
  env.allow = {};
  EXPECT_FALSE(EnvNameAllowed(env, "LANG"));
}

TEST(Policy, ShippedPoliciesAreValidAndEmbeddedDefaultMatchesTheFile) {
  for (const char* name : {"default", "analyst"}) {
    std::string path = std::string(CORDON_SOURCE_DIR) + "/policies/" + name + ".json";
    auto text = ReadFileToString(path);
    ASSERT_TRUE(text) << path;
    auto p = ParsePolicy(*text, path);
    ASSERT_TRUE(p) << p.error().Message();
    EXPECT_EQ(p->name, name);
  }
  auto file = ReadFileToString(std::string(CORDON_SOURCE_DIR) + "/policies/default.json");
  EXPECT_EQ(*file, EmbeddedDefaultPolicy());
  // The embedded default states every default budget explicitly, and they are the built-in ones.
  auto def = ParsePolicy(EmbeddedDefaultPolicy(), "<embedded default>");
  ASSERT_TRUE(def);
  const PolicyLimits builtin;
  for (const char* name : {"max_wall_ms", "max_cpu_ms", "memory_bytes", "pids", "nofile", "tmpfs_bytes"})
    EXPECT_NE(EmbeddedDefaultPolicy().find(std::string("\"") + name + "\""), std::string::npos) << name;
  EXPECT_EQ(def->limits.max_wall_ms, builtin.max_wall_ms);
  EXPECT_EQ(def->limits.max_cpu_ms, builtin.max_cpu_ms);
  EXPECT_EQ(def->limits.memory_bytes, builtin.memory_bytes);
  EXPECT_EQ(def->limits.pids, builtin.pids);
  EXPECT_EQ(def->limits.nofile, builtin.nofile);
  auto prof = ReadFileToString(std::string(CORDON_SOURCE_DIR) + "/seccomp-profiles/default.json");
  EXPECT_EQ(*prof, EmbeddedDefaultSeccompProfile());
}

}  // namespace
}  // namespace cordon
