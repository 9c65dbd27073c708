// supervisor/evidence/redact.h: deterministic redaction before storage (docs/evidence.md
// "Redaction"). A secret becomes "[REDACTED:<rule>:<8 hex>]", the hex being the first 4 bytes of
// HMAC-SHA256(key, rule ":" secret) under a key kept beside the log: the same secret always gives
// the same token, so records can be correlated, and nobody without the key can test guesses.
// Two tiers, both matched in linear time with RE2:
//   (a) exact values known to be secret (AddSecret), with their encodings: base64 (standard and
//       URL-safe, in the three byte alignments a value can have inside a longer blob), URL
//       encoding (upper- and lower-case hex, '+' for space) and JSON string escaping;
//   (b) a rule set for well-known credential shapes (kRules in redact.cc): cloud keys, VCS tokens,
//       private-key blocks, JWTs, bearer headers, passwords in URLs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <re2/re2.h>
#include <re2/set.h>

#include "common/result.h"


namespace cordon::evlog {

class Redactor {
 public:
  // `hmac_key`: at least 16 bytes.
  static Result<std::unique_ptr<Redactor>> Create(std::string hmac_key);
  ~Redactor();

  // Tier (a): `value` (at least 6 bytes; shorter ones would redact common words) and its
  // encodings become tokens of rule `rule`.
  Result<void> AddSecret(std::string_view value, const std::string& rule = "secret");
  std::string Redact(std::string_view text) const;
  // Redacts every string in `j` (values, and object keys), in place.
  void RedactJson(nlohmann::json* j) const;
  // The same on serialised JSON: `*text` is rewritten (parsed, redacted, dumped) only when a rule
  // or a known secret can match one of its strings; most records have none, and stay as they are
  // without being parsed. Text that is not JSON is redacted as plain text. Returns whether `*text`
  // is now a JSON value.
  bool RedactJsonText(std::string* text) const;
  // Whether Redact() could change any of `texts` (one pass of each automaton over them joined).
  bool MayMatch(std::string_view joined) const;
  std::string Token(std::string_view rule, std::string_view secret) const;
  // The tier (b) rule names, in the order they are applied.
  static std::vector<std::string> RuleNames();

 private:
  struct Rule;
  explicit Redactor(std::string key);
  Result<void> Rebuild();

  std::string key_;
  std::vector<Rule> rules_;
  // Every rule in one automaton: one pass tells whether any rule can match, so text without a
  // credential (nearly all of it) costs one scan, not one per rule.
  std::unique_ptr<re2::RE2::Set> any_rule_;
  // Tier (a): one alternation of every encoded form, and each form's secret and rule.
  std::unique_ptr<re2::RE2> known_;
  struct Known {
    std::string form, secret, rule;
  };
  std::vector<Known> known_forms_;
};

// The strings of serialised JSON `text` (values and keys, unescaped), each followed by '\n', into
// `*joined`; false when `text` is not lexically one JSON value (an unclosed string or bracket, a
// bad escape, stray characters).
bool JoinJsonStrings(std::string_view text, std::string* joined);

// The HMAC key file (32 random bytes, 0600): read, or created at first use.
Result<std::string> LoadOrCreateRedactionKey(const std::string& path);

}  // namespace cordon::evlog
