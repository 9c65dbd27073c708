// supervisor/evidence/checkpoint.cc: the checkpoint text format, its signature and its parser.
#include "supervisor/evidence/checkpoint.h"

#include <charconv>

#include "supervisor/evidence/encoding.h"

namespace cordon::evlog {
namespace {

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> Lines(std::string_view text, bool* complete) {
  std::vector<std::string_view> out;
  *complete = true;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      *complete = false;
      out.push_back(text);
      break;
    }
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

std::string Checkpoint::Body() const {
  const std::string_view r(reinterpret_cast<const char*>(root.data()), root.size());
  return origin + "\n" + std::to_string(size) + "\n" + Base64Encode(r) + "\ntime " + std::to_string(time_unix_ms) +
         "\n";
}

std::string SignedCheckpoint::Text() const {
  return cp.Body() + "sig " + key_id + " " + Base64Encode(signature) + "\n";
}

bool SignedCheckpoint::VerifiedBy(const PublicKey& key) const {
  return key_id == key.KeyId() && key.Verify(cp.Body(), signature);
}

Result<SignedCheckpoint> Sign(const Checkpoint& cp, const SigningKey& key) {
  SignedCheckpoint s;
  s.cp = cp;
  s.key_id = key.Public().KeyId();
  CORDON_ASSIGN_OR_RETURN(s.signature, key.Sign(cp.Body()));
  return s;
}

Result<SignedCheckpoint> ParseSignedCheckpoint(std::string_view text) {
  if (text.ends_with("\n\n")) text.remove_suffix(1);
  bool complete = false;
  const auto lines = Lines(text, &complete);
  if (!complete || lines.size() != 5)
    return FailMsg("a checkpoint is 5 lines (origin, size, root, time, sig), each ending in a newline; got " +
                   std::to_string(lines.size()) + (complete ? "" : " (the last one unterminated)"));
  SignedCheckpoint s;
  s.cp.origin = std::string(lines[0]);
  if (!s.cp.origin.starts_with("cordon-evidence-log ")) return FailMsg("checkpoint origin line is not 'cordon-evidence-log <log id>'");
  if (!ParseDecimal(lines[1], &s.cp.size)) return FailMsg("checkpoint size line is not a decimal number");
  auto root = Base64Decode(lines[2]);
  if (!root || root->size() != 32) return FailMsg("checkpoint root line is not the base64 of 32 bytes");
  std::copy(root->begin(), root->end(), s.cp.root.begin());
  uint64_t t = 0;
  if (!lines[3].starts_with("time ") || !ParseDecimal(lines[3].substr(5), &t))
    return FailMsg("checkpoint time line is not 'time <unix ms>'");
  s.cp.time_unix_ms = static_cast<int64_t>(t);
  std::string_view sig = lines[4];
  if (!sig.starts_with("sig ")) return FailMsg("checkpoint signature line is not 'sig <key id> <signature>'");
  sig.remove_prefix(4);
  const size_t sp = sig.find(' ');
  if (sp == std::string_view::npos) return FailMsg("checkpoint signature line is not 'sig <key id> <signature>'");
  s.key_id = std::string(sig.substr(0, sp));
  auto raw_sig = Base64Decode(sig.substr(sp + 1));
  if (s.key_id.size() != 64 || !HexDecode(s.key_id) || !raw_sig || raw_sig->size() != 64)
    return FailMsg("checkpoint signature line: the key id is 64 hex digits and the signature base64 of 64 bytes");
  s.signature = *raw_sig;
  if (s.Text() != text) return FailMsg("checkpoint is not in canonical form");
  return s;
}

std::vector<std::string_view> SplitCheckpointBlocks(std::string_view file, size_t* whole_bytes) {
  std::vector<std::string_view> blocks;
  size_t pos = 0;
  *whole_bytes = 0;
  while (pos < file.size()) {
    const size_t end = file.find("\n\n", pos);
    if (end == std::string_view::npos) break;
    blocks.push_back(file.substr(pos, end + 1 - pos));
    pos = end + 2;
    *whole_bytes = pos;
  }
  return blocks;
}

}  // namespace cordon::evlog
