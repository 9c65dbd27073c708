// supervisor/evidence/redact.cc: the two redaction tiers. RE2 guarantees matching in time linear in
// the input whatever the rules, which matters because the input (argv, URLs, messages) is the
// task submitter's.
#include "supervisor/evidence/redact.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <re2/re2.h>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/keys.h"

namespace cordon::evlog {

struct Redactor::Rule {
  std::string name;
  std::unique_ptr<re2::RE2> re;  // group 1, when the pattern has one, is what is redacted
};

namespace {

// Tier (b). Each pattern names the credential itself; where the shape needs context (a bearer
// header, a password in a URL), group 1 is the secret and the context stays readable.
struct RuleSpec {
  const char* name;
  const char* pattern;
};
constexpr RuleSpec kRules[] = {
    {"private_key", R"((?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----)"},
    {"aws_access_key", R"(\b((?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[0-9A-Z]{16})\b)"},
    {"aws_secret_key", R"((?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})\b)"},
    {"github_token", R"(\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b)"},
    {"gitlab_token", R"(\b(glpat-[A-Za-z0-9_\-]{20,})\b)"},
    {"slack_token", R"(\b(xox[abprse]-[0-9]{6,}-[A-Za-z0-9-]{10,})\b)"},
    {"jwt", R"(\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})\b)"},
    {"bearer", R"((?i)\bbearer\s+([A-Za-z0-9._~+/-]{12,}=*))"},
    {"basic_auth", R"((?i)\bauthorization:\s*basic\s+([A-Za-z0-9+/]{8,}=*))"},
    // Brackets are left out of user and password so a token already in the URL is not matched.
    {"url_password", R"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@\[\]]*:([^/\s@\[\]]+)@)"},
};

std::string UrlEncode(std::string_view s, bool lower, bool plus_for_space) {
  static constexpr char kUp[] = "0123456789ABCDEF", kLow[] = "0123456789abcdef";
  const char* hex = lower ? kLow : kUp;
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ' && plus_for_space) {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The part of base64(prefix of `offset` bytes + value + anything) that depends only on `value`.
std::string Base64Core(std::string_view value, size_t offset) {
  const std::string enc = Base64Encode(std::string(offset, '\0') + std::string(value));
  const size_t skip = offset == 0 ? 0 : offset == 1 ? 2 : 3;
  const size_t keep = (offset + value.size()) / 3 * 4;  // whole groups; the last one mixes with what follows
  return keep > skip ? enc.substr(skip, keep - skip) : std::string();
}

}  // namespace

Redactor::Redactor(std::string key) : key_(std::move(key)) {}
Redactor::~Redactor() = default;

Result<std::unique_ptr<Redactor>> Redactor::Create(std::string hmac_key) {
  if (hmac_key.size() < 16) return FailMsg("the redaction key is shorter than 16 bytes");
  std::unique_ptr<Redactor> r(new Redactor(std::move(hmac_key)));
  re2::RE2::Options o;
  o.set_log_errors(false);
  r->any_rule_ = std::make_unique<re2::RE2::Set>(o, re2::RE2::UNANCHORED);
  for (const RuleSpec& s : kRules) {
    auto re = std::make_unique<re2::RE2>(s.pattern, o);
    if (!re->ok()) return FailMsg(std::string("redaction rule ") + s.name + ": " + re->error());
    std::string err;
    if (r->any_rule_->Add(s.pattern, &err) < 0) return FailMsg(std::string("redaction rule ") + s.name + ": " + err);
    r->rules_.push_back(Rule{s.name, std::move(re)});
  }
  if (!r->any_rule_->Compile()) return FailMsg("compile the redaction rules: out of memory");
  return r;
}

std::vector<std::string> Redactor::RuleNames() {
  std::vector<std::string> n;
  for (const RuleSpec& s : kRules) n.push_back(s.name);
  return n;
}

std::string Redactor::Token(std::string_view rule, std::string_view secret) const {
  const std::string msg = std::string(rule) + ":" + std::string(secret);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &len);
  return "[REDACTED:" + std::string(rule) + ":" + HexEncode(std::string_view(reinterpret_cast<char*>(mac), 4)) + "]";
}

Result<void> Redactor::AddSecret(std::string_view value, const std::string& rule) {
  if (value.size() < 6) return FailMsg("a secret to redact must be at least 6 bytes long (shorter ones match ordinary text)");
  // Known already (a secret binding is read again for every task): nothing to rebuild.
  if (std::any_of(known_forms_.begin(), known_forms_.end(), [&](const Known& k) { return k.secret == value; })) return {};
  std::vector<std::string> forms = {std::string(value), UrlEncode(value, false, false), UrlEncode(value, true, false),
                                    UrlEncode(value, false, true)};
  const std::string json = nlohmann::json(std::string(value)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  forms.push_back(json.substr(1, json.size() - 2));
  for (size_t off = 0; off < 3; ++off) {
    std::string core = Base64Core(value, off);
    if (core.size() < 8) continue;  // too short to be told apart from other base64
    std::string url = core;
    std::replace(url.begin(), url.end(), '+', '-');
    std::replace(url.begin(), url.end(), '/', '_');
    forms.push_back(core);
    forms.push_back(url);
  }
  for (auto& f : forms) {
    if (std::any_of(known_forms_.begin(), known_forms_.end(), [&](const Known& k) { return k.form == f; })) continue;
    known_forms_.push_back(Known{f, std::string(value), rule});
  }
  return Rebuild();
}

Result<void> Redactor::Rebuild() {
  // Longest first: where one form contains another, the longer one is the match.
  std::sort(known_forms_.begin(), known_forms_.end(),
            [](const Known& a, const Known& b) { return a.form.size() > b.form.size(); });
  std::string alt;
  for (const Known& k : known_forms_) {
    if (!alt.empty()) alt += '|';
    alt += re2::RE2::QuoteMeta(k.form);
  }
  re2::RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  o.set_encoding(re2::RE2::Options::EncodingLatin1);  // byte-wise: secrets need not be UTF-8
  auto re = std::make_unique<re2::RE2>("(" + alt + ")", o);
  if (!re->ok()) return FailMsg("redaction of known secrets: " + re->error());
  known_ = std::move(re);
  return {};
}

std::string Redactor::Redact(std::string_view text) const {
  std::string cur(text);
  if (known_ && !known_forms_.empty()) {
    std::string out;
    re2::StringPiece in(cur), m;
    size_t pos = 0;
    while (pos <= cur.size() && known_->Match(in, pos, cur.size(), re2::RE2::UNANCHORED, &m, 1)) {
      const size_t at = static_cast<size_t>(m.data() - cur.data());
      out.append(cur, pos, at - pos);
      const std::string matched(m.data(), m.size());
      auto k = std::find_if(known_forms_.begin(), known_forms_.end(), [&](const Known& f) { return f.form == matched; });
      out += k != known_forms_.end() ? Token(k->rule, k->secret) : Token("secret", matched);
      pos = at + std::max<size_t>(m.size(), 1);
      if (m.empty()) break;
    }
    if (pos < cur.size()) out.append(cur, pos);
    cur = std::move(out);
  }
  if (!any_rule_->Match(cur, nullptr)) return cur;
  for (const Rule& r : rules_) {
    const int groups = r.re->NumberOfCapturingGroups();
    re2::StringPiece sub[2];
    std::string out;
    size_t pos = 0;
    re2::StringPiece in(cur);
    while (pos < cur.size() && r.re->Match(in, pos, cur.size(), re2::RE2::UNANCHORED, sub, 2)) {
      const re2::StringPiece secret = groups >= 1 && sub[1].data() != nullptr ? sub[1] : sub[0];
      const size_t at = static_cast<size_t>(secret.data() - cur.data());
      const size_t end_all = static_cast<size_t>(sub[0].data() - cur.data()) + sub[0].size();
      out.append(cur, pos, at - pos);
      out += Token(r.name, std::string_view(secret.data(), secret.size()));
      const size_t after = at + secret.size();
      out.append(cur, after, end_all - after);
      pos = std::max(end_all, pos + 1);
    }
    if (pos == 0) continue;
    if (pos < cur.size()) out.append(cur, pos);
    cur = std::move(out);
  }
  return cur;
}

void Redactor::RedactJson(nlohmann::json* j) const {
  if (j->is_string()) {
    *j = Redact(j->get_ref<const std::string&>());
  } else if (j->is_array()) {
    for (auto& e : *j) RedactJson(&e);
  } else if (j->is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, v] : j->items()) {
      RedactJson(&v);
      out[Redact(k)] = std::move(v);
    }
    *j = std::move(out);
  }
}

bool Redactor::MayMatch(std::string_view joined) const {
  if (known_ && !known_forms_.empty() && known_->Match(joined, 0, joined.size(), re2::RE2::UNANCHORED, nullptr, 0))
    return true;
  return any_rule_->Match(joined, nullptr);
}

bool Redactor::RedactJsonText(std::string* text) const {
  // Every string on its own line: a rule or secret that matches one string (in Redact, on its own)
  // matches the joined text too, since no pattern is anchored and '\n' is a word boundary; the
  // converse need not hold, which only costs the full path. So a text whose joined strings match
  // nothing is exactly what the full path would give back, byte for byte, had it been dumped by
  // the same nlohmann::json settings (cordond's records are).
  std::string joined;
  joined.reserve(text->size());
  if (JoinJsonStrings(*text, &joined) && !MayMatch(joined)) return true;
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    *text = Redact(*text);
    return false;
  }
  RedactJson(&j);
  *text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return true;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool JoinJsonStrings(std::string_view t, std::string* joined) {
  std::string stack;  // the open brackets
  size_t i = 0;
  bool any = false;
  while (i < t.size()) {
    const char c = t[i];
    if (c == '"') {
      ++i;
      for (;;) {
        if (i >= t.size()) return false;
        const char d = t[i];
        if (d == '"') break;
        if (static_cast<unsigned char>(d) < 0x20) return false;
        if (d != '\\') {
          *joined += d;
          ++i;
          continue;
        }
        if (++i >= t.size()) return false;
        switch (t[i]) {
          case '"': *joined += '"'; break;
          case '\\': *joined += '\\'; break;
          case '/': *joined += '/'; break;
          case 'b': *joined += '\b'; break;
          case 'f': *joined += '\f'; break;
          case 'n': *joined += '\n'; break;
          case 'r': *joined += '\r'; break;
          case 't': *joined += '\t'; break;
          case 'u': {
            auto hex4 = [&](size_t at, uint32_t* v) {
              if (at + 4 > t.size()) return false;
              *v = 0;
              for (size_t k = at; k < at + 4; ++k) {
                const int h = HexDigit(t[k]);
                if (h < 0) return false;
                *v = *v << 4 | static_cast<uint32_t>(h);
              }
              return true;
            };
            uint32_t cp = 0;
            if (!hex4(i + 1, &cp)) return false;
            i += 4;
            // A surrogate pair is one code point; a lone surrogate is what nlohmann refuses too.
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              uint32_t lo = 0;
              if (i + 2 >= t.size() || t[i + 1] != '\\' || t[i + 2] != 'u' || !hex4(i + 3, &lo) || lo < 0xDC00 ||
                  lo > 0xDFFF)
                return false;
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return false;
            }
            AppendUtf8(cp, joined);
            break;
          }
          default:
            return false;
        }
        ++i;
      }
      ++i;  // the closing quote
      *joined += '\n';
      any = true;
      continue;
    }
    if (c == '{' || c == '[') {
      stack += c;
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != (c == '}' ? '{' : '[')) return false;
      stack.pop_back();
    } else if (!(c == ',' || c == ':' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '-' || c == '+' ||
                 c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == 'E')) {
      return false;  // not a token of JSON (numbers, true, false, null, structure)
    }
    any = true;
    ++i;
  }
  return any && stack.empty();
}

Result<std::string> LoadOrCreateRedactionKey(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) {
    CORDON_ASSIGN_OR_RETURN(std::string key, ReadWholeFile(path));
    if (key.size() < 16) return FailMsg("redaction key " + path + " is shorter than 16 bytes", "restore it, or remove it to start a new one (tokens then change)");
    return key;
  }
  std::string key(32, '\0');
  if (::getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) return Fail(errno, "getrandom for the redaction key");
  CORDON_TRY(WriteFileAtomic(path, key, 0600, true));
  return key;
}

}  // namespace cordon::evlog
