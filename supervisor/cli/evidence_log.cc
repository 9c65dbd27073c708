// supervisor/cli/evidence_log.cc: `cordon evidence verify|export|checkpoint`.
#include "supervisor/cli/evidence_log.h"
#include "supervisor/cli/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "proto/cordon.pb.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"
#include "common/unique_fd.h"
#include "supervisor/evidence/artifact.h"
#include "supervisor/evidence/bundle.h"
#include "supervisor/evidence/consistency.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/redact.h"

#include <nlohmann/json.hpp>
#include "supervisor/evidence/verify.h"

namespace cordon {
namespace {

constexpr int kExitTampered = 1, kExitUnsealed = 2, kExitError = 125;

constexpr const char* kEvidenceUsage =
    "Usage: cordon evidence verify [--log DIR] [--key PUB] [--since CHECKPOINT]\n"
    "       cordon evidence verify --bundle FILE --key PUB\n"
    "       cordon evidence verify --consistency FILE --key PUB\n"
    "       cordon evidence export [--log DIR] ID -o FILE\n"
    "       cordon evidence checkpoint [--log DIR] [-o FILE]\n"
    "       cordon evidence prove [--log DIR] --since OLD_CHECKPOINT -o FILE\n"
    "       cordon evidence rotate-key [--log DIR]\n"
    "       cordon evidence prune [--log DIR] (--keep-records N | --keep-days D)\n"
    "       cordon evidence key [--socket PATH] [-o FILE]\n"
    "\n"
    "The tamper-evident evidence log (docs/evidence.md). DIR is a log directory or cordond's state\n"
    "directory (default: cordond's, as for this user); it is only read.\n"
    "\n"
    "  verify      Check every record and checkpoint. Exit 0: valid and sealed to the end; 1: tampered\n"
    "              (the first bad record or checkpoint is named); 2: valid, but records after the last\n"
    "              checkpoint are not sealed yet; 125: the log could not be read.\n"
    "    --key PUB         The signing key's public key (PEM) to pin; default DIR/signing.pub, whose\n"
    "                      key id (fingerprint) is printed.\n"
    "    --since FILE      A checkpoint saved earlier (`cordon evidence checkpoint -o FILE`): the log\n"
    "                      must still extend it, or it was rolled back or rewritten.\n"
    "    --bundle FILE     Check an exported bundle instead (needs --key): exit 0 valid, 1 not.\n"
    "    --consistency FILE  Check a consistency proof (from `prove`; needs --key): exit 0 when\n"
    "                      the newer checkpoint's log extends the older one's, 1 when not.\n"
    "  export      Write the proof of one task's record (ID: a task id, or seq:N) to FILE: its\n"
    "              exact bytes, inclusion proof, signed checkpoint and key id.\n"
    "  checkpoint  Print the newest signed checkpoint (to pin for a later verify --since).\n"
    "  prove       Write the proof that the log's newest checkpoint extends OLD_CHECKPOINT (an\n"
    "              earlier one), which verify --consistency checks without the log.\n"
    "  rotate-key  Make a new signing key, signed into the log by the current one. With cordond\n"
    "              running, the key is staged and cordond switches to it at its next SIGHUP\n"
    "              (`systemctl reload cordond`); otherwise the rotation is done at once.\n"
    "  prune       Remove the oldest records, keeping the newest N or those of the last D days;\n"
    "              what remains still verifies (cordond does the same from daemon.json's\n"
    "              \"evidence_log\" retention). Needs the log not held by cordond.\n"
    "  key         Ask the running cordond for its signing key: prints the key id, the log's origin\n"
    "              and size, and the public key (PEM); -o FILE writes the PEM to pin with --key.\n"
    "\n"
    "Example:\n"
    "  cordon evidence verify --log /var/lib/cordon --key cordond-evidence.pub\n";

int Fails(std::string_view msg, std::string_view hint = {}) {
  return cli::ReportFailure(msg, hint, kExitError, "cordon evidence");
}
int Fails(const cordon::Error& e) { return cli::ReportFailure(e, kExitError, "cordon evidence"); }

struct Args {
  std::string log, key, since, bundle, consistency, out, keep_records, keep_days, socket;
  std::vector<std::string> positional;
  bool help = false;
};

// Parses --flag VALUE / --flag=VALUE for the flags in `allowed`; "" when fine, else the error.
std::string ParseArgs(int argc, char** argv, const std::vector<std::string>& allowed, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "-h" || s == "--help") {
      a->help = true;
      continue;
    }
    if (!s.starts_with("-")) {
      a->positional.push_back(s);
      continue;
    }
    std::string flag = s, value;
    bool have = false;
    if (auto eq = s.find('='); eq != std::string::npos && s.starts_with("--")) {
      flag = s.substr(0, eq);
      value = s.substr(eq + 1);
      have = true;
    }
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end())
      return "unknown option " + flag + " for `cordon evidence " + argv[0] + "`";
    if (!have) {
      if (i + 1 >= argc) return flag + " needs a value";
      value = argv[++i];
    }
    if (value.empty()) return flag + " needs a non-empty value";
    if (flag == "--log") a->log = value;
    else if (flag == "--key") a->key = value;
    else if (flag == "--since") a->since = value;
    else if (flag == "--bundle") a->bundle = value;
    else if (flag == "--consistency") a->consistency = value;
    else if (flag == "-o" || flag == "--output") a->out = value;
    else if (flag == "--keep-records") a->keep_records = value;
    else if (flag == "--keep-days") a->keep_days = value;
    else if (flag == "--socket") a->socket = value;
  }
  return "";
}

Result<std::string> LogDir(const Args& a) {
  return evlog::ResolveLogDir(a.log.empty() ? daemon::GetDefaultPaths().state_dir : a.log);
}

int VerifyBundleCmd(const Args& a) {
  if (a.key.empty())
    return Fails("--bundle needs --key PUB", "a bundle carries only the key id; pin the log's public key with --key");
  auto key = evlog::PublicKey::LoadFile(a.key);
  if (!key) return Fails(key.error());
  auto text = evlog::ReadWholeFile(a.bundle);
  if (!text) return Fails(text.error());
  auto check = evlog::VerifyBundle(*text, *key);
  if (!check) {
    std::printf("TAMPERED: bundle %s: %s\n", a.bundle.c_str(), check.error().Message().c_str());
    return kExitTampered;
  }
  std::printf("checked: %s\nrecord: %s\nOK: the bundle is valid\n", check->checked.c_str(), check->record.c_str());
  return 0;
}

int VerifyConsistencyCmd(const Args& a) {
  if (a.key.empty()) return Fails("--consistency needs --key PUB", "pin the log's public key with --key");
  auto key = evlog::PublicKey::LoadFile(a.key);
  if (!key) return Fails(key.error());
  auto text = evlog::ReadWholeFile(a.consistency);
  if (!text) return Fails(text.error());
  auto ok = evlog::VerifyConsistencyProof(*text, *key);
  if (!ok) {
    std::printf("TAMPERED: consistency proof %s: %s\n", a.consistency.c_str(), ok.error().Message().c_str());
    return kExitTampered;
  }
  std::printf("OK: %s\n", ok->c_str());
  return 0;
}

int Verify(const Args& a) {
  if (!a.bundle.empty()) return VerifyBundleCmd(a);
  if (!a.consistency.empty()) return VerifyConsistencyCmd(a);
  auto dir = LogDir(a);
  if (!dir) return Fails(dir.error());
  evlog::VerifyOptions o;
  o.dir = *dir;
  o.now_unix_ms = evlog::NowUnixMs();
  if (!a.key.empty()) {
    auto key = evlog::PublicKey::LoadFile(a.key);
    if (!key) return Fails(key.error());
    o.key = *key;
  }
  if (!a.since.empty()) {
    auto text = evlog::ReadWholeFile(a.since);
    if (!text) return Fails(text.error());
    auto cp = evlog::ParseSignedCheckpoint(*text);
    if (!cp) return Fails("--since " + a.since + ": " + cp.error().Message(), "save it with `cordon evidence checkpoint -o FILE`");
    o.since = *cp;
  }
  auto r = evlog::VerifyLog(o);
  if (!r) return Fails(r.error());
  std::printf("log %s\n", o.dir.c_str());
  for (const auto& line : r->checked) std::printf("checked: %s\n", line.c_str());
  switch (r->verdict) {
    case evlog::Verdict::kTampered:
      std::printf("TAMPERED: %s\n", r->problem.c_str());
      return kExitTampered;
    case evlog::Verdict::kUnsealed:
      std::printf("UNSEALED: valid, but %llu records after the last checkpoint (seq %llu..%llu) are not sealed yet; "
                  "the oldest was written %.1f s ago\n",
                  static_cast<unsigned long long>(r->unsealed), static_cast<unsigned long long>(r->sealed),
                  static_cast<unsigned long long>(r->records - 1), r->unsealed_age_ms / 1000.0);
      return kExitUnsealed;
    case evlog::Verdict::kSealed:
      break;
  }
  std::printf("OK: valid and sealed to the end (%llu records)\n", static_cast<unsigned long long>(r->records));
  return 0;
}

// The log read and checked; a tampered log is refused for export and checkpoint.
Result<evlog::VerifyReport> ReadVerified(const Args& a) {
  CORDON_ASSIGN_OR_RETURN(std::string dir, LogDir(a));
  evlog::VerifyOptions o;
  o.dir = dir;
  o.now_unix_ms = evlog::NowUnixMs();
  CORDON_ASSIGN_OR_RETURN(evlog::VerifyReport r, evlog::VerifyLog(o));
  if (r.verdict == evlog::Verdict::kTampered)
    return FailMsg("the log in " + dir + " does not verify: " + r.problem, "run `cordon evidence verify` for the details");
  return r;
}

int Export(const Args& a) {
  if (a.positional.size() != 1) return Fails("export needs exactly one ID (a task id, or seq:N)", "cordon evidence --help");
  if (a.out.empty()) return Fails("export needs -o FILE", "cordon evidence --help");
  auto r = ReadVerified(a);
  if (!r) return Fails(r.error());
  auto seq = evlog::FindRecord(*r, a.positional[0]);
  if (!seq) return Fails(seq.error());
  auto bundle = evlog::BuildBundle(*r, *seq);
  if (!bundle) return Fails(bundle.error());
  if (auto w = evlog::WriteFileAtomic(a.out, *bundle, 0644, false); !w) return Fails(w.error());
  std::printf("exported record %llu (%s) to %s; check it with: cordon evidence verify --bundle %s --key PUB\n",
              static_cast<unsigned long long>(*seq), a.positional[0].c_str(), a.out.c_str(), a.out.c_str());
  return 0;
}

int Prove(const Args& a) {
  if (a.since.empty() || a.out.empty()) return Fails("prove needs --since OLD_CHECKPOINT and -o FILE", "cordon evidence --help");
  auto text = evlog::ReadWholeFile(a.since);
  if (!text) return Fails(text.error());
  auto old = evlog::ParseSignedCheckpoint(*text);
  if (!old) return Fails("--since " + a.since + ": " + old.error().Message());
  auto r = ReadVerified(a);
  if (!r) return Fails(r.error());
  auto proof = evlog::BuildConsistencyProof(*r, *old);
  if (!proof) return Fails(proof.error());
  if (auto w = evlog::WriteFileAtomic(a.out, *proof, 0644, false); !w) return Fails(w.error());
  std::printf("wrote %s; check it with: cordon evidence verify --consistency %s --key PUB\n", a.out.c_str(), a.out.c_str());
  return 0;
}

int CheckpointCmd(const Args& a) {
  auto r = ReadVerified(a);
  if (!r) return Fails(r.error());
  if (r->checkpoints.empty()) return Fails("the log has no checkpoint yet", "cordond writes one within its checkpoint interval");
  const std::string text = r->checkpoints.back().Text();
  if (a.out.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  if (auto w = evlog::WriteFileAtomic(a.out, text, 0644, false); !w) return Fails(w.error());
  return 0;
}

// The log opened as its writer; `busy` tells that another process (cordond) holds it.
Result<std::unique_ptr<evlog::LogWriter>> OpenWriter(const std::string& dir, bool* busy) {
  evlog::WriterOptions o;
  o.checkpoint_every = 0;
  o.checkpoint_ms = 0;
  std::vector<std::string> notes;
  auto w = evlog::LogWriter::Open(dir, o, &notes);
  *busy = !w && w.error().err == EWOULDBLOCK;
  for (const auto& n : notes) std::printf("%s\n", n.c_str());
  return w;
}

int RotateKey(const Args& a) {
  auto dir = LogDir(a);
  if (!dir) return Fails(dir.error());
  const evlog::LogPaths paths(*dir);
  std::string staged_id;
  if (auto staged = evlog::SigningKey::Load(paths.next_key()); staged) {
    staged_id = staged->Public().KeyId();
    std::printf("a new key is already staged in %s (key id %s)\n", paths.next_key().c_str(), staged_id.c_str());
  } else {
    if (::access(paths.next_key().c_str(), F_OK) == 0) return Fails(staged.error());
    auto k = evlog::SigningKey::Generate();
    if (!k) return Fails(k.error());
    auto pem = k->PrivatePem();
    if (!pem) return Fails(pem.error());
    if (auto w = evlog::WriteFileAtomic(paths.next_key(), *pem, 0600, true); !w) return Fails(w.error());
    staged_id = k->Public().KeyId();
  }
  bool busy = false;
  auto w = OpenWriter(*dir, &busy);  // Open rotates to the staged key
  if (busy) {
    std::printf("staged the new signing key %s (key id %s); the log's writer (cordond) holds the log: send it SIGHUP "
                "(`systemctl reload cordond`) and it rotates to the new key, logging \"rotated the evidence log "
                "signing key\"\n",
                paths.next_key().c_str(), staged_id.c_str());
    return 0;
  }
  if (!w) return Fails(w.error());
  if (auto c = (*w)->Close(); !c) return Fails(c.error());
  std::printf("signing key id %s; public key %s\n", staged_id.c_str(), paths.public_key().c_str());
  return 0;
}

int PruneCmd(const Args& a) {
  if (a.keep_records.empty() == a.keep_days.empty())
    return Fails("prune needs one of --keep-records N or --keep-days D", "cordon evidence --help");
  const std::string& text = a.keep_records.empty() ? a.keep_days : a.keep_records;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size())
    return Fails((a.keep_records.empty() ? "--keep-days " : "--keep-records ") + text + ": not a non-negative integer");
  auto dir = LogDir(a);
  if (!dir) return Fails(dir.error());
  bool busy = false;
  auto w = OpenWriter(*dir, &busy);
  if (busy)
    return Fails("cordond (or another writer) holds the evidence log in " + *dir,
                 "set \"evidence_log\": {\"retain_records\": N} or {\"retain_days\": D} in cordond's daemon.json "
                 "and send it SIGHUP, or stop cordond first");
  if (!w) return Fails(w.error());
  uint64_t cut = 0;
  nlohmann::json why = {{"by", "cordon evidence prune"}};
  if (!a.keep_records.empty()) {
    cut = (*w)->size() > n ? (*w)->size() - n : 0;
    why["keep_records"] = n;
  } else {
    auto sealed = (*w)->SealedBefore(evlog::NowUnixMs() - static_cast<int64_t>(n) * 86'400'000);
    if (!sealed) return Fails(sealed.error());
    cut = *sealed;
    why["keep_days"] = n;
  }
  const uint64_t before = (*w)->first_kept();
  auto pruned = (*w)->Prune(cut, why);
  if (!pruned) return Fails(pruned.error());
  if (auto c = (*w)->Close(); !c) return Fails(c.error());
  if (*pruned == 0) {
    std::printf("nothing to prune: records 0..%llu are already gone or within the retention\n",
                static_cast<unsigned long long>(before ? before - 1 : 0));
    return 0;
  }
  std::printf("pruned records %llu..%llu (%llu); records %llu..%llu remain; %s/pruned keeps their leaf hashes\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>((*w)->first_kept() - 1),
              static_cast<unsigned long long>(*pruned), static_cast<unsigned long long>((*w)->first_kept()),
              static_cast<unsigned long long>((*w)->size() - 1), dir->c_str());
  return 0;
}

// `cordon evidence key`: the running cordond's signing key (EvidenceKey call).
int KeyCmd(const Args& a) {
  auto conn = daemon::ClientConnection::Open(a.socket.empty() ? daemon::ClientSocketPath() : a.socket);
  if (!conn) return Fails(conn.error());
  api::v1::Request req;
  req.mutable_evidence_key();
  auto resp = conn->Call(req);
  if (!resp) return Fails(resp.error());
  if (resp->has_error()) return Fails(resp->error().message());
  const api::v1::EvidenceKeyResponse& k = resp->evidence_key();
  if (!k.enabled())
    return Fails("this cordond runs without an evidence log (--evidence-log off)", "start it without that flag");
  if (!a.out.empty()) {
    if (auto w = evlog::WriteFileAtomic(a.out, k.public_key_pem(), 0644, false); !w) return Fails(w.error());
  }
  std::printf("key id: %s\norigin: %s\nrecords: %llu (sealed: %llu)\n%s", k.key_id().c_str(), k.origin().c_str(),
              static_cast<unsigned long long>(k.records()), static_cast<unsigned long long>(k.sealed()),
              a.out.empty() ? k.public_key_pem().c_str() : ("public key written to " + a.out + "\n").c_str());
  return 0;
}

}  // namespace

Result<std::unique_ptr<evlog::LogWriter>> OpenRunLog(const std::string& dir) {
  evlog::WriterOptions o;
  o.checkpoint_every = 1;
  o.checkpoint_ms = 0;
  o.wait_for_lock = true;
  std::vector<std::string> notes;
  auto w = evlog::LogWriter::Open(dir, o, &notes);
  if (!w) return Wrap(w.error(), "--evidence-log " + dir);
  for (const auto& n : notes) std::fprintf(stderr, "cordon: %s\n", n.c_str());
  return w;
}

Result<uint64_t> AppendRunEvidence(evlog::LogWriter& log, const std::string& evidence_json) {
  CORDON_ASSIGN_OR_RETURN(std::string key, evlog::LoadOrCreateRedactionKey(log.dir() + "/redaction.key"));
  CORDON_ASSIGN_OR_RETURN(auto redactor, evlog::Redactor::Create(std::move(key)));
  nlohmann::json ev = nlohmann::json::parse(evidence_json, nullptr, false);
  if (ev.is_discarded()) ev = evidence_json;
  redactor->RedactJson(&ev);
  const std::string id = ev.is_object() ? ev.value("task_id", "") : "";
  CORDON_ASSIGN_OR_RETURN(uint64_t seq, log.Append("task", {{"task_id", id}, {"supervisor", "cordon run"}, {"evidence", ev}}));
  CORDON_TRY(log.Close());
  return seq;
}

// RunArtifactJson and WithArtifact: cli/run_artifact.cc (linked into the lean cordon-run too).

bool IsEvidenceLogCommand(const char* sub) {
  for (const char* c : {"verify", "export", "checkpoint", "prove", "rotate-key", "prune", "key"})
    if (std::strcmp(sub, c) == 0) return true;
  return false;
}

int CmdEvidenceLog(int argc, char** argv) {
  const std::string sub = argv[0];
  Args a;
  std::string err;
  if (sub == "verify") err = ParseArgs(argc, argv, {"--log", "--key", "--since", "--bundle", "--consistency"}, &a);
  else if (sub == "prove") err = ParseArgs(argc, argv, {"--log", "--since", "-o", "--output"}, &a);
  else if (sub == "export") err = ParseArgs(argc, argv, {"--log", "-o", "--output"}, &a);
  else if (sub == "rotate-key") err = ParseArgs(argc, argv, {"--log"}, &a);
  else if (sub == "prune") err = ParseArgs(argc, argv, {"--log", "--keep-records", "--keep-days"}, &a);
  else if (sub == "key") err = ParseArgs(argc, argv, {"--socket", "-o", "--output"}, &a);
  else err = ParseArgs(argc, argv, {"--log", "-o", "--output"}, &a);
  if (a.help) {
    std::fputs(kEvidenceUsage, stdout);
    return 0;
  }
  if (!err.empty()) return Fails(err, "cordon evidence verify --help");
  if (sub == "verify") {
    if (!a.positional.empty()) return Fails("verify takes no positional argument ('" + a.positional[0] + "')", "cordon evidence verify --help");
    return Verify(a);
  }
  if (sub == "export") return Export(a);
  if (sub == "rotate-key" || sub == "prune") {
    if (!a.positional.empty()) return Fails(sub + " takes no positional argument ('" + a.positional[0] + "')", "cordon evidence --help");
    return sub == "prune" ? PruneCmd(a) : RotateKey(a);
  }
  if (sub == "prove") {
    if (!a.positional.empty()) return Fails("prove takes no positional argument", "cordon evidence --help");
    return Prove(a);
  }
  if (sub == "key") {
    if (!a.positional.empty()) return Fails("key takes no positional argument", "cordon evidence --help");
    return KeyCmd(a);
  }
  if (!a.positional.empty()) return Fails("checkpoint takes no positional argument", "cordon evidence --help");
  return CheckpointCmd(a);
}

}  // namespace cordon
