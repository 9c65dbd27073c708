// cordon-evidence-bench: what the evidence log adds to one cordond task, measured piece by piece
// on this machine (docs/evidence.md "Cost"): redacting the task's evidence record and its
// decision, appending both records (each fdatasync'd, as cordond does before it answers), and the
// checkpoint signature amortised over the records it seals. Prints numbers; never passes or fails.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/evidence/log.h"
#include "supervisor/evidence/redact.h"

namespace {

using Clock = std::chrono::steady_clock;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void Print(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("  %-44s p50 %8.1f us   p90 %8.1f us   (%zu runs)\n", what, v[v.size() / 2], v[v.size() * 9 / 10], v.size());
}

// A real evidence record: `cordon run --evidence -` of /bin/true, or nothing when no sandbox can run.
std::string RealEvidence() {
  FILE* p = ::popen(CORDON_BUILD_DIR "/bin/cordon run --evidence - -- /bin/true 2>/dev/null", "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cordon::evlog;
  int runs = 300;
  if (argc >= 3 && std::string(argv[1]) == "--runs") runs = std::max(10, std::atoi(argv[2]));
  std::string evidence = RealEvidence();
  if (evidence.empty() || evidence[0] != '{') {
    std::fprintf(stderr, "cordon-evidence-bench: could not get an evidence record from `cordon run --evidence -`\n");
    return 1;
  }
  const char* t = std::getenv("TMPDIR");
  std::string dir = std::string(t && *t ? t : "/tmp") + "/cordon-evidence-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  std::vector<std::string> notes;
  WriterOptions o;
  o.checkpoint_every = 0;  // signatures measured on their own below
  o.checkpoint_ms = 0;
  o.sync_each = argc >= 2 && std::string(argv[argc - 1]) == "--sync-each";  // cordond: false
  auto w = LogWriter::Open(dir + "/log", o, &notes);
  auto r = Redactor::Create(std::string(32, 'k'));
  if (!w || !r) return 1;
  const nlohmann::json decision = {{"decision", "allow"}, {"reason", ""}, {"principal", "tester"}, {"policy", "default"},
                                   {"fingerprint", std::string(64, 'a')}, {"request_id", "job-42"}};
  std::vector<double> redact, append_dec, append_task, sign, loop_seal, redact_text, append_text;
  for (int i = 0; i < runs; ++i) {
    // The earlier way, kept as the baseline: parse, redact every string, dump; the task record
    // built from the parsed evidence and dumped again.
    auto a = Clock::now();
    nlohmann::json ev = nlohmann::json::parse(evidence);
    (*r)->RedactJson(&ev);
    std::string out = ev.dump();
    auto b = Clock::now();
    (void)(*w)->Append("decision", decision);
    auto c = Clock::now();
    (void)(*w)->Append("task", ev);
    auto d = Clock::now();
    // cordond's way now (daemon/evidence_log.cc): one scan of the record's strings when nothing
    // matches (RedactJsonText), and the task record put together around the evidence text.
    std::string text = evidence;
    auto ta = Clock::now();
    (*r)->RedactJsonText(&text);
    auto tb = Clock::now();
    {
      std::string data = nlohmann::json{{"task_id", "t"}, {"exit_code", 0}}.dump();
      data.pop_back();
      data += ",\"evidence\":" + text + "}";  // cordond's own dump: no JSON check (issue 15's cost)
      (void)(*w)->AppendJsonText("task", data);
    }
    auto tc = Clock::now();
    redact_text.push_back(Us(tb - ta));
    append_text.push_back(Us(tc - tb));
    // cordond's way (daemon/evidence_log.h): the loop takes the tree head and later the result,
    // the sealer thread does RunSeal in between.
    std::optional<SealJob> job = (*w)->BeginSeal();
    auto d2 = Clock::now();
    if (job) (void)RunSeal(*job);
    auto e = Clock::now();
    if (job) (*w)->FinishSeal(*job, true);
    auto e2 = Clock::now();
    loop_seal.push_back(Us(d2 - d) + Us(e2 - e));
    redact.push_back(Us(b - a));
    append_dec.push_back(Us(c - b));
    append_task.push_back(Us(d - c));
    sign.push_back(Us(e - d2));
  }
  std::printf("evidence log cost per cordond task (%zu-byte evidence record, %s):\n", evidence.size(), dir.c_str());
  Print("redact the evidence record (parse, redact, dump)", redact);
  Print("  cordond now: scan its strings, rewrite on a match", redact_text);
  Print(o.sync_each ? "append the decision record (write + fdatasync)" : "append the decision record (write)", append_dec);
  Print(o.sync_each ? "append the task record (write + fdatasync)" : "append the task record (write)", append_task);
  Print("  cordond now: evidence text spliced in", append_text);
  Print("sign and append a checkpoint (2 x fdatasync)", sign);
  Print("  of it on cordond's loop (tree head, result)", loop_seal);
  std::vector<double> total, loop, total_now, loop_now;
  for (size_t i = 0; i < redact.size(); ++i) {
    total.push_back(redact[i] + append_dec[i] + append_task[i] + sign[i] * 2 / 64);
    loop.push_back(append_dec[i] + append_task[i] + loop_seal[i] * 2 / 64);
    total_now.push_back(redact_text[i] + append_dec[i] + append_text[i] + sign[i] * 2 / 64);
    loop_now.push_back(redact_text[i] + append_dec[i] + append_text[i] + loop_seal[i] * 2 / 64);
  }
  Print("per task: all of it, checkpoint every 64 records", total);
  Print("per task on the loop, the log's own (no redaction)", loop);
  Print("per task now: all of it (redaction included)", total_now);
  Print("per task now, on the loop (redaction included)", loop_now);
  std::string rm = "rm -rf '" + dir + "'";
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
