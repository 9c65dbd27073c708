// Redaction before storage: the rule corpus under tests/fixtures/redaction (every positive loses
// its secret to a token of its rule, every negative is left as it is), the known-secret tier with
// its encodings, and tokens that are deterministic per key.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/redact.h"

namespace cordon::evlog {
namespace {

std::unique_ptr<Redactor> Make(const std::string& key = std::string(32, 'k')) {
  auto r = Redactor::Create(key);
  EXPECT_TRUE(r.has_value());
  return std::move(*r);
}

std::vector<std::vector<std::string>> ReadTsv(const std::string& name) {
  std::ifstream f(std::string(CORDON_SOURCE_DIR) + "/tests/fixtures/redaction/" + name);
  EXPECT_TRUE(f.good()) << name;
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, '\t');) {
      for (size_t p; (p = c.find("\\n")) != std::string::npos;) c.replace(p, 2, "\n");
      cols.push_back(c);
    }
    rows.push_back(cols);
  }
  return rows;
}

TEST(EvidenceRedact, EveryPositiveOfTheCorpusLosesItsSecret) {
  auto r = Make();
  auto rows = ReadTsv("positives.tsv");
  ASSERT_GE(rows.size(), 15u);
  std::set<std::string> rules_seen;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u) << row[0];
    const std::string out = r->Redact(row[1]);
    EXPECT_EQ(out.find(row[2]), std::string::npos) << row[0] << ": " << out;
    EXPECT_NE(out.find("[REDACTED:" + row[0] + ":"), std::string::npos) << row[0] << ": " << out;
    rules_seen.insert(row[0]);
  }
  for (const auto& name : Redactor::RuleNames()) EXPECT_TRUE(rules_seen.contains(name)) << "no positive for " << name;
}

TEST(EvidenceRedact, EveryNegativeOfTheCorpusIsLeftAsItIs) {
  auto r = Make();
  auto rows = ReadTsv("negatives.tsv");
  ASSERT_GE(rows.size(), 15u);
  for (const auto& row : rows) EXPECT_EQ(r->Redact(row[0]), row[0]);
}

TEST(EvidenceRedact, AKnownSecretIsRedactedInEveryEncoding) {
  auto r = Make();
  const std::string secret = "correct horse/battery+staple";
  ASSERT_TRUE(r->AddSecret(secret, "db_password").has_value());
  const std::string token = r->Token("db_password", secret);
  EXPECT_EQ(r->Redact("pw=" + secret), "pw=" + token);
  EXPECT_EQ(r->Redact("q=correct%20horse%2Fbattery%2Bstaple&x"), "q=" + token + "&x");
  EXPECT_EQ(r->Redact("q=correct%20horse%2fbattery%2bstaple"), "q=" + token);
  EXPECT_EQ(r->Redact("q=correct+horse%2Fbattery%2Bstaple"), "q=" + token);
  // Base64 of the secret inside longer data, at each of the three byte alignments.
  for (const std::string prefix : {"", "a", "ab"}) {
    const std::string blob = Base64Encode(prefix + "user:" + secret + ":tail");
    const std::string out = r->Redact(blob);
    EXPECT_NE(out.find(token), std::string::npos) << prefix.size() << ": " << out;
    EXPECT_EQ(out.find(Base64Encode(secret).substr(4, 8)), std::string::npos) << out;
  }
  // JSON-escaped, as inside a JSON document carried in a string.
  ASSERT_TRUE(r->AddSecret("line1\n\"quoted\"", "note").has_value());
  EXPECT_EQ(r->Redact(R"({"n":"line1\n\"quoted\""})"), R"({"n":")" + r->Token("note", "line1\n\"quoted\"") + R"("})");
  EXPECT_FALSE(r->AddSecret("abc").has_value());  // too short to redact safely
}

TEST(EvidenceRedact, TokensAreDeterministicPerKeyAndJsonIsRedactedThroughout) {
  auto a = Make(std::string(32, 'a')), a2 = Make(std::string(32, 'a')), b = Make(std::string(32, 'b'));
  const std::string text = "GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyzAB";
  EXPECT_EQ(a->Redact(text), a2->Redact(text));
  EXPECT_NE(a->Redact(text), b->Redact(text));
  EXPECT_EQ(a->Redact(text).size(), std::string("GITHUB_TOKEN=[REDACTED:github_token:12345678]").size());
  nlohmann::json j = {{"command", {"curl", "https://u:hunter2hunter2@example.com/"}},
                      {"env", {{"GITHUB_TOKEN", "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB"}}},
                      {"n", 5}};
  a->RedactJson(&j);
  const std::string dumped = j.dump();
  EXPECT_EQ(dumped.find("hunter2hunter2"), std::string::npos) << dumped;
  EXPECT_EQ(dumped.find("ghp_1234"), std::string::npos) << dumped;
  EXPECT_EQ(j["n"], 5);
}

}  // namespace
}  // namespace cordon::evlog
