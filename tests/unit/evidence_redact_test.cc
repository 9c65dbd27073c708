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

// RedactJsonText leaves a record unparsed when nothing can match (docs/evidence.md "Cost"): it
// must give exactly what parsing, redacting every string and dumping gives, for every positive and
// negative of the corpus put in a record as a value, as a key and behind JSON escapes.
std::string FullPath(const Redactor& r, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text);
  r.RedactJson(&j);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(EvidenceRedact, TheUnparsedPathOfARecordGivesWhatTheFullPathGives) {
  auto r = Make();
  ASSERT_TRUE(r->AddSecret("binding-secret-value-42", "binding").has_value());
  std::vector<std::string> texts = {"binding-secret-value-42", "x binding-secret-value-42 y"};
  for (const auto& row : ReadTsv("positives.tsv")) texts.push_back(row[1]);
  for (const auto& row : ReadTsv("negatives.tsv")) texts.push_back(row[0]);
  size_t redacted = 0;
  for (const std::string& t : texts) {
    // A tab, a quote, a backslash or a newline next to the secret is escaped in the record's text.
    for (const std::string& v : {t, "\t" + t + "\"", "Bearer\t" + t, "\\" + t + "\n"}) {
      for (const nlohmann::json& rec :
           {nlohmann::json{{"argv", {"/bin/echo", v}}, {"exit", 0}, {"ok", true}},
            nlohmann::json{{"env", {{v, "x"}}}, {"n", -1.5e3}, {"z", nullptr}}}) {
        const std::string text = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::string fast = text;
        EXPECT_TRUE(r->RedactJsonText(&fast));
        EXPECT_EQ(fast, FullPath(*r, text)) << text;
        redacted += fast != text;
      }
    }
  }
  EXPECT_GT(redacted, 60u);  // the positives were redacted through it, not just passed over
  // \u escapes, surrogate pairs included, are decoded before matching.
  std::string esc = R"({"a":"\u0062inding-secret-value-42","b":"\ud83d\ude00 ok"})";
  EXPECT_TRUE(r->RedactJsonText(&esc));
  EXPECT_EQ(esc.find("secret-value-42"), std::string::npos) << esc;
  // Text that is not JSON is redacted as text.
  std::string bad = "{\"a\": \"binding-secret-value-42";
  EXPECT_FALSE(r->RedactJsonText(&bad));
  EXPECT_EQ(bad.find("binding-secret-value-42"), std::string::npos) << bad;
}

TEST(EvidenceRedact, JsonStringsAreJoinedOnlyFromLexicallyValidJson) {
  std::string j;
  EXPECT_TRUE(JoinJsonStrings(R"({"k":["a\"b",1,true,null,{"x":"\u00e9"}]})", &j));
  EXPECT_EQ(j, "k\na\"b\nx\n\xc3\xa9\n");
  for (const char* bad : {"", "{", "{\"a\":\"b}", "[1,2}", "{\"a\":\"\\q\"}", "{\"a\":\"\\ud800\"}", "{\"a\":#}"}) {
    std::string out;
    EXPECT_FALSE(JoinJsonStrings(bad, &out)) << bad;
  }
}

}  // namespace
}  // namespace cordon::evlog
