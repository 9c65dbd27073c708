// supervisor/evidence/verify.cc: the offline verifier. It names the first thing that is wrong, in
// the order a reader meets it: the records from the first to the last (framing, position, chain),
// then the checkpoints (signature, origin, growth, root), then the auditor's pinned checkpoint.
#include "supervisor/evidence/verify.h"

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

#include "supervisor/sha256.h"
#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/pruned.h"
#include "supervisor/evidence/rotation.h"

namespace cordon::evlog {
namespace {

std::string HashHex(const Hash& h) { return HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())); }
std::string N(uint64_t v) { return std::to_string(v); }

struct Parsed {
  bool pruned = false;  // removed by retention (DIR/pruned keeps its leaf hash only)
  bool ok = false;
  uint64_t seq = 0;
  std::string prev, kind;
  int64_t time_unix_ms = 0;
  nlohmann::json data;
  std::string why;
};

Parsed ParseRecord(const std::string& bytes) {
  Parsed p;
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    p.why = "not a JSON object";
    return p;
  }
  auto need = [&](const char* k, bool (nlohmann::json::*is)() const noexcept) {
    if (!j.contains(k) || !(j[k].*is)()) {
      p.why = std::string("field \"") + k + "\" is missing or of the wrong type";
      return false;
    }
    return true;
  };
  if (!need("seq", &nlohmann::json::is_number_unsigned) || !need("prev", &nlohmann::json::is_string) ||
      !need("kind", &nlohmann::json::is_string) || !need("time_unix_ms", &nlohmann::json::is_number_integer) ||
      !need("data", &nlohmann::json::is_object))
    return p;
  p.seq = j["seq"].get<uint64_t>();
  p.prev = j["prev"].get<std::string>();
  p.kind = j["kind"].get<std::string>();
  p.time_unix_ms = j["time_unix_ms"].get<int64_t>();
  p.data = std::move(j["data"]);
  p.ok = true;
  return p;
}

std::string Tampered(VerifyReport* r, std::string problem) {
  r->verdict = Verdict::kTampered;
  r->problem = std::move(problem);
  return r->problem;
}

// What the records say beyond their own bytes: the signing keys in order, and the cuts that prune
// records name.
struct Walk {
  std::vector<KeyEpoch> keys;
  std::map<uint64_t, uint64_t> prunes;  // first_kept -> seq of the prune record naming it
};

// The first record-level problem, or "".
std::string CheckRecords(VerifyReport* r, const std::vector<Parsed>& recs, Walk* w) {
  for (uint64_t i = 0; i < recs.size(); ++i) {
    const Parsed& p = recs[i];
    if (p.pruned) {
      if (i == 0) return "record 0 (the log's header) was pruned and the pruned-prefix marker keeps no copy of it";
      continue;
    }
    if (!p.ok) return "record " + N(i) + ": not a well-formed record (" + p.why + "): its bytes were changed";
    if (p.seq != i) {
      if (p.seq > i) {
        for (uint64_t j = i + 1; j < recs.size(); ++j)
          if (recs[j].ok && recs[j].seq == i)
            return "record " + N(i) + ": out of order: position " + N(i) + " holds seq " + N(p.seq) + " and seq " +
                   N(i) + " is at position " + N(j) + " (records reordered)";
        return "records " + N(i) + ".." + N(p.seq - 1) + " are missing: position " + N(i) + " holds seq " + N(p.seq) +
               " (records deleted)";
      }
      return "record " + N(i) + ": position " + N(i) + " holds seq " + N(p.seq) + ", which an earlier record has " +
             "(a record inserted or duplicated)";
    }
    if (i == 0) {
      if (p.kind != "log" || !p.data.contains("origin") || !p.data["origin"].is_string())
        return "record 0: not the log's header (kind \"log\" naming the origin)";
      r->origin = p.data["origin"].get<std::string>();
      w->keys.push_back({0, p.data.value("key_id", ""), std::nullopt});
    } else if (p.prev != HashHex(r->leaves[i - 1])) {
      return "record " + N(i - 1) + ": its bytes hash to " + HashHex(r->leaves[i - 1]) + " but record " + N(i) +
             " chains to " + p.prev + " (record " + N(i - 1) + " edited, or a record inserted before record " + N(i) + ")";
    }
    if (p.kind == "policy") {
      const std::string sha = p.data.value("sha256", ""), text = p.data.value("text", "");
      if (Sha256Hex(text) != sha) return "record " + N(i) + ": the policy snapshot's text does not hash to its sha256 " + sha;
    }
    if (p.kind == "key_rotation") {
      auto rot = CheckRotation(p.data, r->origin, w->keys.back().id);
      if (!rot) return "record " + N(i) + ": key rotation refused: " + rot.error().Message();
      if (!w->keys.back().pub) w->keys.back().pub = rot->old_key;
      w->keys.push_back({i + 1, rot->new_key.KeyId(), rot->new_key});
    }
    if (p.kind == "prune" && p.data.contains("first_kept") && p.data["first_kept"].is_number_unsigned())
      w->prunes[p.data["first_kept"].get<uint64_t>()] = i;
  }
  return "";
}

std::string KeyChainText(const std::vector<KeyEpoch>& keys) {
  std::string out = keys.front().id + " (from record 0)";
  for (size_t k = 1; k < keys.size(); ++k)
    out += ", rotated at record " + N(keys[k].from_size - 1) + " to " + keys[k].id + " (signed by the previous key)";
  return out;
}

}  // namespace

Result<VerifyReport> VerifyLog(const VerifyOptions& opts) {
  const LogPaths paths(opts.dir);
  VerifyReport r;
  PublicKey trust;
  std::string trust_from;
  if (opts.key) {
    trust = *opts.key;
    trust_from = "pinned with --key";
    r.checked.push_back("key " + trust.KeyId() + " (pinned with --key)");
  } else {
    CORDON_ASSIGN_OR_RETURN(trust, PublicKey::LoadFile(paths.public_key()));
    trust_from = "from " + paths.public_key();
    r.checked.push_back("key " + trust.KeyId() + " (from " + paths.public_key() +
                        "; an auditor pins it with --key, since whoever can rewrite the log can replace this file)");
  }
  r.key_id = trust.KeyId();

  // The records before the marker: a prune that runs between the two reads leaves records at the
  // front that the marker already covers (skipped below), never a gap.
  CORDON_ASSIGN_OR_RETURN(RecordFile rf, ReadRecordFile(paths.records()));
  std::optional<PrunedPrefix> marker;
  if (auto text = ReadWholeFile(paths.pruned()); text) {
    auto m = ParsePrunedPrefix(*text);
    if (!m) {
      Tampered(&r, paths.pruned() + ": " + m.error().Message());
      return r;
    }
    marker = std::move(*m);
  } else if (text.error().err != ENOENT) {
    return std::unexpected(text.error());
  }
  const uint64_t first_kept = marker ? marker->first_kept : 0;
  size_t skip = 0;
  std::vector<Parsed> parsed;
  if (marker) {
    for (; skip < rf.records.size(); ++skip) {
      Parsed p = ParseRecord(rf.records[skip]);
      if (!p.ok || p.seq >= first_kept || LeafHash(rf.records[skip]) != marker->leaves[p.seq]) break;
    }
    r.leaves = marker->leaves;
    r.record_bytes.resize(first_kept);
    parsed.resize(first_kept);
    for (uint64_t i = 0; i < first_kept; ++i) parsed[i].pruned = true;
    for (const auto& [seq, bytes] : marker->records) {
      if (LeafHash(bytes) != marker->leaves[seq]) {
        Tampered(&r, paths.pruned() + ": its copy of pruned record " + N(seq) + " does not hash to that record's leaf");
        return r;
      }
      parsed[seq] = ParseRecord(bytes);
      r.record_bytes[seq] = bytes;
    }
  }
  for (size_t i = skip; i < rf.records.size(); ++i) {
    r.leaves.push_back(LeafHash(rf.records[i]));
    parsed.push_back(ParseRecord(rf.records[i]));
    r.record_bytes.push_back(std::move(rf.records[i]));
  }
  r.records = r.leaves.size();
  if (r.records == 0 || r.records == first_kept) {
    Tampered(&r, paths.records() + " holds no records: a log always starts with its header record 0" +
                     (first_kept ? std::string(" and ends after its last prune record") : std::string()));
    return r;
  }
  Walk walk;
  if (std::string bad = CheckRecords(&r, parsed, &walk); !bad.empty()) {
    Tampered(&r, bad);
    return r;
  }
  size_t policies = 0;
  for (const Parsed& p : parsed) policies += p.kind == "policy";
  r.checked.push_back("records: " + N(r.records) + " (0.." + N(r.records - 1) +
                      "), each at its position (seq) and chained to the previous one's hash; " + N(policies) +
                      " policy snapshots match their sha256");
  if (first_kept > 0) {
    auto it = walk.prunes.find(first_kept);
    if (it == walk.prunes.end()) {
      Tampered(&r, "records 0.." + N(first_kept - 1) + " are gone (" + paths.pruned() +
                       ") but no prune record of the log names that cut: records deleted beyond what retention pruned");
      return r;
    }
    r.checked.push_back("pruned: records 0.." + N(first_kept - 1) + " were removed by retention (prune record " +
                        N(it->second) + "); their leaf hashes and copies of the header, key rotations and policies are in " +
                        paths.pruned() + (skip ? " (" + N(skip) + " of them still at the front of the records file)" : ""));
  }
  // The key the verifier trusts must be one of the log's signing keys.
  KeyEpoch* trusted = nullptr;
  for (auto& e : walk.keys)
    if (e.id == trust.KeyId()) trusted = &e;
  if (trusted == nullptr) {
    Tampered(&r, "the key given (" + trust.KeyId() + ", " + trust_from + ") is not one of this log's signing keys: " +
                     KeyChainText(walk.keys) + " (signed by another key)");
    return r;
  }
  if (!trusted->pub) trusted->pub = trust;
  if (walk.keys.size() > 1) r.checked.push_back("signing keys: " + KeyChainText(walk.keys));
  if (rf.torn_bytes > 0)
    r.checked.push_back("a torn write of " + N(rf.torn_bytes) +
                        " bytes follows the last record (a crash mid-append; never acknowledged, cut off when the "
                        "writer next opens the log)");

  CORDON_ASSIGN_OR_RETURN(std::string cps, ReadWholeFile(paths.checkpoints()));
  size_t whole = 0;
  const auto blocks = SplitCheckpointBlocks(cps, &whole);
  // Roots of every prefix a checkpoint names, computed in one pass.
  std::map<uint64_t, Hash> roots;
  for (size_t c = 0; c < blocks.size(); ++c) {
    auto s = ParseSignedCheckpoint(blocks[c]);
    if (!s) {
      Tampered(&r, "checkpoint #" + N(c) + ": malformed (" + s.error().Message() + ")");
      return r;
    }
    const KeyEpoch& e = EpochFor(walk.keys, s->cp.size);
    if (!e.pub || !s->VerifiedBy(*e.pub)) {
      Tampered(&r, "checkpoint #" + N(c) + " (size " + N(s->cp.size) + "): its signature does not verify with key " +
                       e.id + (s->key_id != e.id ? " (it names key " + s->key_id + ": signed by another key)"
                                                 : " (the checkpoint text or signature was changed)"));
      return r;
    }
    if (s->cp.origin != r.origin) {
      Tampered(&r, "checkpoint #" + N(c) + ": its origin '" + s->cp.origin + "' is not this log's ('" + r.origin + "')");
      return r;
    }
    if (!r.checkpoints.empty() && s->cp.size < r.checkpoints.back().cp.size) {
      Tampered(&r, "checkpoint #" + N(c) + " covers " + N(s->cp.size) + " records, fewer than checkpoint #" + N(c - 1) +
                       " (" + N(r.checkpoints.back().cp.size) + "): checkpoints reordered or the log rolled back");
      return r;
    }
    if (s->cp.size > r.records) {
      Tampered(&r, "records " + N(r.records) + ".." + N(s->cp.size - 1) + " are missing: checkpoint #" + N(c) +
                       " (signed) covers " + N(s->cp.size) + " records but the log holds " + N(r.records) +
                       " (records truncated away)");
      return r;
    }
    roots[s->cp.size] = {};
    r.checkpoints.push_back(*s);
  }
  if (opts.since) roots[opts.since->cp.size] = {};
  {
    Frontier f;
    if (roots.contains(0)) roots[0] = f.Root();
    for (uint64_t i = 0; i < r.leaves.size(); ++i) {
      f.Append(r.leaves[i]);
      if (auto it = roots.find(i + 1); it != roots.end()) it->second = f.Root();
    }
  }
  uint64_t prev_size = 0;
  for (size_t c = 0; c < r.checkpoints.size(); ++c) {
    const auto& cp = r.checkpoints[c].cp;
    if (roots[cp.size] != cp.root) {
      Tampered(&r, "checkpoint #" + N(c) + " (signed, size " + N(cp.size) + "): records 0.." + N(cp.size - 1) +
                       " do not hash to its root: a record in " + N(prev_size) + ".." + N(cp.size - 1) +
                       " was changed and the chain rewritten after it");
      return r;
    }
    prev_size = cp.size;
  }
  if (opts.since) {
    const SignedCheckpoint& pin = *opts.since;
    const KeyEpoch& e = EpochFor(walk.keys, pin.cp.size);
    if (!e.pub || !pin.VerifiedBy(*e.pub)) {
      Tampered(&r, "the pinned checkpoint (--since) does not verify with key " + e.id);
      return r;
    }
    if (pin.cp.origin != r.origin) {
      Tampered(&r, "the pinned checkpoint (--since) is of another log ('" + pin.cp.origin + "')");
      return r;
    }
    if (pin.cp.size > r.records) {
      Tampered(&r, "rolled back: the pinned checkpoint (--since, signed at " + std::to_string(pin.cp.time_unix_ms) +
                       ") covers " + N(pin.cp.size) + " records, the log holds " + N(r.records) + ": records " +
                       N(r.records) + ".." + N(pin.cp.size - 1) + " are missing");
      return r;
    }
    if (roots[pin.cp.size] != pin.cp.root) {
      Tampered(&r, "history rewritten: records 0.." + N(pin.cp.size - 1) +
                       " no longer hash to the root of the pinned checkpoint (--since)");
      return r;
    }
    if (!r.checkpoints.empty() && r.checkpoints.back().cp.time_unix_ms < pin.cp.time_unix_ms &&
        r.checkpoints.back().cp.size < pin.cp.size) {
      Tampered(&r, "rolled back: the last checkpoint is older than the pinned one (--since)");
      return r;
    }
    r.checked.push_back("pinned checkpoint (--since): the log still extends it (" + N(pin.cp.size) + " records)");
  }
  r.sealed = r.checkpoints.empty() ? 0 : r.checkpoints.back().cp.size;
  if (first_kept > 0 && walk.prunes[first_kept] >= r.sealed) {
    Tampered(&r, "the prune record naming the cut at " + N(first_kept) + " (seq " + N(walk.prunes[first_kept]) +
                     ") is not sealed by a checkpoint: records deleted beyond what retention pruned");
    return r;
  }
  r.key_id = EpochFor(walk.keys, r.sealed).id;
  if (!r.checkpoints.empty())
    r.checked.push_back("checkpoints: " + N(r.checkpoints.size()) + ", each signed by the key in force at its size (" +
                        (walk.keys.size() > 1 ? "see signing keys" : "key " + walk.keys.front().id) + ")" +
                        ", growing, and matching the records' RFC 6962 root; the last covers " + N(r.sealed) +
                        " records, signed at unix ms " + std::to_string(r.checkpoints.back().cp.time_unix_ms));
  if (whole < cps.size())
    r.checked.push_back("a torn checkpoint write of " + N(cps.size() - whole) + " bytes at the end (ignored)");
  r.unsealed = r.records - r.sealed;
  if (r.unsealed > 0) {
    r.verdict = Verdict::kUnsealed;
    r.unsealed_age_ms = r.sealed >= first_kept ? std::max<int64_t>(0, opts.now_unix_ms - parsed[r.sealed].time_unix_ms) : 0;
  }
  return r;
}

}  // namespace cordon::evlog
