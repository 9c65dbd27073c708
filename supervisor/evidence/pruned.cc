// supervisor/evidence/pruned.cc: the pruned-prefix marker, written and read.
#include "supervisor/evidence/pruned.h"

#include <cerrno>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/keys.h"

namespace cordon::evlog {

namespace {
constexpr const char* kFormat = "cordon-evidence-pruned 1";
}

bool KeptWhenPruned(const std::string& kind) { return kind == "log" || kind == "key_rotation" || kind == "policy"; }

std::string PrunedPrefix::Text() const {
  std::string raw;
  raw.reserve(leaves.size() * 32);
  for (const Hash& h : leaves) raw.append(reinterpret_cast<const char*>(h.data()), h.size());
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& [seq, bytes] : records) kept.push_back({{"seq", seq}, {"bytes", bytes}});
  nlohmann::json j = {{"format", kFormat}, {"first_kept", first_kept}, {"leaves", Base64Encode(raw)}, {"records", kept}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<PrunedPrefix> ParsePrunedPrefix(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat)
    return FailMsg("not a pruned-prefix marker (a JSON object with \"format\": \"" + std::string(kFormat) + "\")");
  if (!j.contains("first_kept") || !j["first_kept"].is_number_unsigned() || !j.contains("leaves") ||
      !j["leaves"].is_string() || !j.contains("records") || !j["records"].is_array())
    return FailMsg("the pruned-prefix marker needs first_kept, leaves and records");
  PrunedPrefix p;
  p.first_kept = j["first_kept"].get<uint64_t>();
  auto raw = Base64Decode(j["leaves"].get<std::string>());
  if (!raw || raw->size() != p.first_kept * 32)
    return FailMsg("the pruned-prefix marker's leaves are not " + std::to_string(p.first_kept) + " hashes of 32 bytes");
  p.leaves.resize(p.first_kept);
  for (uint64_t i = 0; i < p.first_kept; ++i) std::copy_n(raw->data() + i * 32, 32, reinterpret_cast<char*>(p.leaves[i].data()));
  for (const auto& r : j["records"]) {
    if (!r.is_object() || !r.contains("seq") || !r["seq"].is_number_unsigned() || !r.contains("bytes") ||
        !r["bytes"].is_string())
      return FailMsg("the pruned-prefix marker's records are {\"seq\": N, \"bytes\": \"...\"}");
    const uint64_t seq = r["seq"].get<uint64_t>();
    if (seq >= p.first_kept) return FailMsg("the pruned-prefix marker keeps record " + std::to_string(seq) + ", which was not pruned");
    p.records[seq] = r["bytes"].get<std::string>();
  }
  return p;
}

Result<std::optional<PrunedPrefix>> ReadPrunedPrefix(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) {
    if (text.error().err == ENOENT) return std::optional<PrunedPrefix>();
    return std::unexpected(text.error());
  }
  auto p = ParsePrunedPrefix(*text);
  if (!p) return Wrap(p.error(), path);
  return std::optional<PrunedPrefix>(std::move(*p));
}

}  // namespace cordon::evlog
