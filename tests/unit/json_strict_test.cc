// ParseStrictJson and the parsers built on it (policy, principals.json): what nlohmann::json alone
// accepts and Cordon refuses, each with its JSON path.
#include <gtest/gtest.h>

#include <chrono>

#include "supervisor/daemon/config.h"
#include "supervisor/json_strict.h"
#include "supervisor/policy.h"

namespace cordon {
namespace {

std::string ErrorOf(std::string_view text) {
  auto j = ParseStrictJson(text, "t.json", "fix it");
  return j ? std::string("accepted") : j.error().Message();
}

TEST(JsonStrict, AcceptsOrdinaryJson) {
  auto j = ParseStrictJson(R"({"a": [1, {"b": "x"}, []], "c": {"a": 1}, "": 2})", "t", "");
  ASSERT_TRUE(j) << j.error().Message();
  EXPECT_EQ((*j)["a"][1]["b"], "x");
}

TEST(JsonStrict, RefusesDuplicateKeysWithTheirPath) {
  EXPECT_EQ(ErrorOf(R"({"version": 1, "version": 2})"), "t.json: version: duplicate key: it is given twice in one object");
  EXPECT_EQ(ErrorOf(R"({"a": [0, {"x": 1}, {"y": 1, "y": 2}]})"),
            "t.json: a[2].y: duplicate key: it is given twice in one object");
  // The same key in two different objects is fine.
  EXPECT_EQ(ErrorOf(R"({"a": {"k": 1}, "b": {"k": 1}})"), "accepted");
}

TEST(JsonStrict, RefusesNulInKeysAndStrings) {
  EXPECT_EQ(ErrorOf(R"({"env": {"set": {"A": "x\u0000y"}}})"),
            "t.json: env.set.A: the string contains a NUL character (\\u0000)");
  EXPECT_EQ(ErrorOf(R"({"a": ["ok", "b\u0000"]})"), "t.json: a[1]: the string contains a NUL character (\\u0000)");
  EXPECT_NE(ErrorOf(R"({"k\u0000": 1})").find("a key contains a NUL character"), std::string::npos);
}

TEST(JsonStrict, BoundsNestingDepthQuickly) {
  EXPECT_EQ(ErrorOf(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')), "accepted");
  EXPECT_NE(ErrorOf(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']')).find("nested deeper than"),
            std::string::npos);
  // A million-deep array in a description: refused at the bound, without reading it all.
  std::string deep = R"({"name": "x", "version": 1, "description": )" + std::string(1'000'000, '[') +
                     std::string(1'000'000, ']') + "}";
  const auto t0 = std::chrono::steady_clock::now();
  auto p = ParsePolicy(deep, "deep.json");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().Message().find("policy deep.json: description"), std::string::npos) << p.error().Message();
  EXPECT_NE(p.error().Message().find("nested deeper than 32 levels"), std::string::npos) << p.error().Message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(JsonStrict, PolicyAndPrincipalsRefuseDuplicates) {
  auto p = ParsePolicy(R"({"name": "x", "version": 1, "version": 2})", "p.json");
  ASSERT_FALSE(p) << "version " << p->version;
  EXPECT_EQ(p.error().Message(), "policy p.json: version: duplicate key: it is given twice in one object");
  auto q = daemon::ParsePrincipals(R"({"version": 1, "roles": {"r": {}, "r": {"manage_all_tasks": true}}})", "q.json");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().Message(), "principals q.json: roles.r: duplicate key: it is given twice in one object");
}

}  // namespace
}  // namespace cordon
