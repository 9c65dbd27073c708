// `cordon policy lint --principals FILE`: a role granting the `privileged` admission class is a
// finding, since Cordon enforces no approval step yet (docs/daemon.md, docs/policy.md).
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Policy(const std::vector<std::string>& args) { return CordonCommand("policy", args); }

// path -> severity of the privileged findings of one report.
std::map<std::string, std::string> Privileged(const json& report) {
  std::map<std::string, std::string> m;
  for (const auto& f : report["findings"])
    if (f["rule"] == "principals/privileged-without-approval") m[f["path"]] = f["severity"];
  return m;
}

TEST(PolicyLintPrincipals, PrivilegedGrantsAreFoundWithTheirPath) {
  std::string file = WriteTempFile("principals.json", R"({"version": 1,
    "roles": {
      "ops":    {"policies": ["*"], "classes": ["batch", "privileged"]},
      "agent":  {"policies": ["analyst"], "classes": ["batch"]},
      "spare":  {"policies": ["default"], "classes": ["privileged"]},
      "fenced": {"policies": ["analyst"], "classes": ["interactive", "privileged"]}},
    "principals": [
      {"name": "alice", "uids": [1000], "roles": ["ops"]},
      {"name": "bot", "uids": [1001], "roles": ["agent", "fenced"]}],
    "policy_classes": {"analyst": ["batch", "interactive"]}})");
  auto r = Policy({"lint", "--principals", file, "--json"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;  // a high finding fails the default gate
  json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["source"], file);
  // ops: held by alice, every policy -> high. spare: held by nobody -> low. fenced: privileged on
  // analyst only, which policy_classes takes away -> nothing. agent: no privileged -> nothing.
  EXPECT_EQ(Privileged(j[0]), (std::map<std::string, std::string>{{"roles.ops.classes[1]", "high"},
                                                                  {"roles.spare.classes[0]", "low"}}))
      << j.dump(1);
  for (const auto& f : j[0]["findings"]) {
    if (f["path"] != "roles.ops.classes[1]") continue;
    EXPECT_NE(f["message"].get<std::string>().find("on every policy to alice with no approval"), std::string::npos) << f;
    EXPECT_NE(f["message"].get<std::string>().find("Cordon does not enforce approvals yet"), std::string::npos) << f;
    EXPECT_NE(f["fix"].get<std::string>().find("restrict privileged to principals that"), std::string::npos) << f;
  }
  // Text output, and together with policies: one report per source, principals first.
  auto t = Policy({"lint", "default", "--principals", file, "--fail-on", "none"});
  EXPECT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("high     roles.ops.classes[1]: role 'ops' grants the privileged class"), std::string::npos) << t.out;
  EXPECT_EQ(Policy({"lint", "--principals", file, "--fail-on", "critical"}).exit_code, 0);
}

TEST(PolicyLintPrincipals, TheShippedExampleIsFlaggedAndAFileWithoutPrivilegedIsClean) {
  auto r = Policy({"lint", "--principals", SourcePath("policies/examples/principals.json"), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(Privileged(json::parse(r.out)[0]),
            (std::map<std::string, std::string>{{"roles.operator.classes[2]", "high"}}));
  std::string clean = WriteTempFile("clean-principals.json", R"({"version": 1,
    "roles": {"agent": {"policies": ["analyst"], "classes": ["batch"]}},
    "principals": [{"name": "bot", "uids": [1001], "roles": ["agent"]}]})");
  auto c = Policy({"lint", "--principals", clean, "--json"});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_TRUE(json::parse(c.out)[0]["findings"].empty()) << c.out;
}

TEST(PolicyLintPrincipals, BadFileIsRefusedWithThePath) {
  std::string bad = WriteTempFile("bad-principals.json", R"({"version": 1,
    "roles": {"ops": {"classes": ["root"]}}, "principals": []})");
  auto r = Policy({"lint", "--principals", bad});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("roles.ops.classes[0]"), std::string::npos) << r.err;
  auto missing = Policy({"lint", "--principals", "/nonexistent/principals.json"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("--principals /nonexistent/principals.json"), std::string::npos) << missing.err;
  EXPECT_EQ(Policy({"lint", "--principals"}).exit_code, 125);
}

}  // namespace
}  // namespace cordon::test
