// `cordon policy lint|diff` through the real binary, on the shipped policies and on policies with
// one known problem each.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Policy(const std::vector<std::string>& args) { return CordonCommand("policy", args); }

std::vector<json> Find(const json& report, const std::string& rule) {
  std::vector<json> v;
  for (const auto& f : report["findings"])
    if (f["rule"] == rule) v.push_back(f);
  return v;
}

TEST(PolicyLint, ShippedPoliciesHaveNoHighFindings) {
  auto r = Policy({"lint", "default", "analyst", SourcePath("policies/default.json"), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  // The shipped default lets the caller pass any variable; lint says so (medium, below the gate).
  EXPECT_EQ(Find(j[0], "env/allow-any").size(), 1u) << j[0].dump(1);
  EXPECT_TRUE(Find(j[1], "env/allow-any").empty());
}

TEST(PolicyLint, EachKnownProblemIsFoundWithItsPath) {
  std::string dir = WriteTempFile("lint-data/.keep", "");
  dir = dir.substr(0, dir.rfind('/'));
  std::string p = WriteTempFile("leaky.json", R"({"name": "leaky", "version": 1,
    "env": {"allow": ["LANG", "*"], "set": {"API_TOKEN": "t0ps3cret", "HOME": "/work",
            "DB_URL": "postgres://app:hunter2@db.internal/app"}},
    "limits": {"memory_bytes": 0, "pids": 0},
    "bindings": [{"name": "out", "kind": "dir", "source": ")" + dir + R"(", "target": "/out", "access": "rw", "data_domain": "eu"},
                 {"name": "in", "kind": "dir", "source": ")" + dir + R"(", "target": "/in", "data_domain": "us"}],
    "outbound": {"mode": "monitored", "allow": ["*:443", "0.0.0.0/0:5432"]}})");
  auto r = Policy({"lint", p, "--json"});
  ASSERT_EQ(r.exit_code, 1) << r.err;  // high findings fail the default gate
  json j = json::parse(r.out)[0];
  auto paths = [&](const std::string& rule) {
    std::set<std::string> s;
    for (const auto& f : Find(j, rule)) s.insert(f["path"].get<std::string>() + "=" + f["severity"].get<std::string>());
    return s;
  };
  EXPECT_EQ(paths("secrets/literal"), (std::set<std::string>{"env.set.API_TOKEN=high", "env.set.DB_URL=critical"}))
      << j.dump(1);
  EXPECT_EQ(paths("env/allow-any"), (std::set<std::string>{"env.allow[1]=medium"}));
  EXPECT_EQ(paths("limits/unbounded"), (std::set<std::string>{"limits.memory_bytes=medium", "limits.pids=medium"}));
  EXPECT_EQ(paths("exfiltration/writable-and-monitored"), (std::set<std::string>{"bindings[0].access=high"}));
  EXPECT_EQ(paths("egress/wildcard"), (std::set<std::string>{"outbound.allow[0]=high", "outbound.allow[1]=high"}));
  EXPECT_EQ(paths("data-domain/mixed"), (std::set<std::string>{"bindings=medium"}));
  // The secret itself is never printed back.
  EXPECT_EQ(r.out.find("t0ps3cret"), std::string::npos);
  EXPECT_EQ(Policy({"lint", p, "--fail-on", "critical"}).exit_code, 1);
  EXPECT_EQ(Policy({"lint", p, "--fail-on", "none"}).exit_code, 0);
}

TEST(PolicyLint, TheProfilesFindingsAreIncluded) {
  std::string prof = WriteTempFile("allow-all-profile.json", R"({"defaultAction": "SCMP_ACT_ALLOW"})");
  std::string p = WriteTempFile("open-profile.json",
                                R"({"name": "open", "version": 1, "seccomp_profile": ")" + prof + R"("})");
  auto r = Policy({"lint", p, "--json"});
  EXPECT_EQ(r.exit_code, 1);
  json j = json::parse(r.out)[0];
  auto d = Find(j, "default/allows");
  ASSERT_EQ(d.size(), 1u) << j.dump(1);
  EXPECT_EQ(d[0]["path"], "seccomp_profile: defaultAction");
}

TEST(PolicyDiff, SaysWhatANewVersionGrantsAndTakesAway) {
  std::string dir = WriteTempFile("diff-data/.keep", "");
  dir = dir.substr(0, dir.rfind('/'));
  std::string a = WriteTempFile("v1.json", R"({"name": "app", "version": 1, "limits": {"memory_bytes": 536870912},
    "bindings": [{"name": "data", "kind": "dir", "source": ")" + dir + R"(", "target": "/data"}],
    "outbound": {"mode": "allowlist", "allow": ["api.example.com:443"]}})");
  std::string prof = WriteTempFile("v2-profile.json", R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
    {"names": ["read", "write", "execve", "exit", "exit_group", "clone3"], "action": "SCMP_ACT_ALLOW"}]})");
  std::string b = WriteTempFile("v2.json", R"({"name": "app", "version": 2, "limits": {"memory_bytes": 0},
    "seccomp_profile": ")" + prof + R"(",
    "bindings": [{"name": "data", "kind": "dir", "source": ")" + dir + R"(", "target": "/data", "access": "rw"}],
    "outbound": {"mode": "monitored", "allow": ["api.example.com:443"]}})");
  auto r = Policy({"diff", a, b, "--json"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json j = json::parse(r.out);
  std::map<std::string, std::string> kinds;
  for (const auto& c : j["changes"]) kinds[c["path"]] = c["kind"];
  EXPECT_EQ(kinds["bindings.data"], "grants") << j.dump(1);  // ro -> rw
  EXPECT_EQ(kinds["outbound.mode"], "grants");                 // allowlist -> monitored
  EXPECT_EQ(kinds["limits.memory_bytes"], "grants");           // 512 MiB -> none
  EXPECT_EQ(kinds["seccomp_profile: clone3 [x86_64]"], "grants");  // ENOSYS -> allowed
  EXPECT_EQ(kinds["seccomp_profile: socket [x86_64] for some arguments"], "takes away");
  EXPECT_FALSE(kinds.contains("outbound.allow"));
  auto same = Policy({"diff", a, a});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  auto bad = Policy({"diff", a, "/nonexistent-policy.json"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("/nonexistent-policy.json"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cordon::test
