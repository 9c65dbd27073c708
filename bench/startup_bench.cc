// cordon-bench: sandbox start-up cost against its baselines, measured in one run on one machine
// (docs/performance.md). Numbers for people: it never passes or fails on timing.
//
//   cordon-bench [--iterations N] [--warmup N] [--workers 1,2] [--quick] [--no-daemon]
//                [--cordon PATH] [--cordond PATH] [-- CMD...]
//
// For each program (/bin/true and `python3 -c pass`, or CMD) and each contender it runs the program
// N times and prints p50/p95/p99 wall time per run, then the throughput with 1 and 2 workers, with
// the ratios against a bare fork+exec of the same program and against bubblewrap. The latency series
// are interleaved (one run of each contender per round), so that a loaded host's drift hits every
// row alike. Contenders:
//   bare                 posix_spawn + waitpid from this driver (the floor without isolation)
//   cordon run           the one-shot CLI, embedded default policy, full isolation
//   cordond, cold        Submit + Wait over the daemon's socket, from a client already connected
//   cordond, warm pool   the same against a daemon with --pool-size; paced so the pool keeps up
//   cordon submit (CLI)  the `cordon submit` command per task against that daemon: what a shell gets
//   crun, runc           `run` of an OCI bundle of the same shape (bench/oci_bundle.h), where a probe
//                        run works on this host
//   bubblewrap           --unshare-all --die-with-parent --new-session, ro /usr, /proc, /dev, /tmp
// Then where the time goes (the evidence timelines), and the daemon's CPU per task.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/oci_bundle.h"
#include "supervisor/daemon/client.h"
#include "supervisor/governance/governor.h"
#include "supervisor/policy.h"

extern char** environ;

namespace {

namespace api = cordon::api::v1;
using Cmd = std::vector<std::string>;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Starts argv with stdin and stdout on /dev/null and stderr on `err_path`; returns its pid or -1.
pid_t Spawn(const Cmd& argv, const std::string& err_path = "/dev/null") {
  std::vector<char*> av;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Runs argv to its end; returns wall ns, or 0 when it did not exit 0.
uint64_t SpawnWait(const Cmd& argv) {
  uint64_t t0 = NowNs();
  pid_t pid = Spawn(argv);
  if (pid < 0) return 0;
  int status;
  waitpid(pid, &status, 0);
  uint64_t t = NowNs() - t0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : 0;
}

struct Stats {
  double p50 = 0, p95 = 0, p99 = 0;
  size_t ok = 0, failed = 0;
};

Stats Summarize(std::vector<double> v, size_t failed) {
  Stats s;
  s.failed = failed;
  s.ok = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))]; };
  s.p50 = pct(0.50);
  s.p95 = pct(0.95);
  s.p99 = pct(0.99);
  return s;
}

double Median(std::vector<double> v) { return Summarize(std::move(v), 0).p50; }

// A cordond of our own on a temporary socket and state dir, with a config naming the current user.
class Daemon {
 public:
  // `governance`: a budgets.json with a session class and app and tenant envelopes (all far from
  // spent), so that every Submit of the row naming them runs the whole governance admission.
  static std::optional<Daemon> Start(const std::string& cordond, size_t pool_size, bool sync_each = true,
                                     bool governance = false) {
    Daemon d;
    char tmpl[] = "/tmp/cordon-bench-daemon-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return std::nullopt;
    d.dir_ = tmpl;
    chmod(tmpl, 0755);
    d.socket_ = d.dir_ + "/cordond.sock";
    mkdir((d.dir_ + "/config").c_str(), 0755);
    nlohmann::json principals = {
        {"version", 1},
        {"roles", {{"bench", {{"policies", {"*"}}, {"classes", {"batch"}}, {"manage_all_tasks", true}}}}},
        {"principals", {{{"name", "bench"}, {"tenant", "bench"}, {"uids", {geteuid()}}, {"roles", {"bench"}}}}}};
    std::ofstream(d.dir_ + "/config/principals.json") << principals.dump();
    if (governance)
      std::ofstream(d.dir_ + "/config/budgets.json")
          << R"({"version": 1, "session_classes": {"bench": {"budget": {"tasks": 1000000000, "cpu_ms": 1000000000,
                   "wall_ms": 1000000000, "calls": 1000000000, "fanout": 1000000000}}},
                 "apps": {"bench-app": {"tasks_per_day": 1000000000, "tasks_per_month": 1000000000,
                   "cpu_ms_per_day": 1000000000, "cpu_ms_per_month": 1000000000}},
                 "tenants": {"bench": {"tasks_per_month": 1000000000}}})";
    Cmd argv = {cordond, "--socket", d.socket_, "--state-dir", d.dir_ + "/state", "--config-dir", d.dir_ + "/config",
                "--pool-size", std::to_string(pool_size), "--grace-ms", "1000", "--decision-sync",
                sync_each ? "each" : "os"};
    d.pid_ = Spawn(argv, d.dir_ + "/cordond.log");
    if (d.pid_ < 0) return std::nullopt;
    for (int i = 0; i < 500; ++i) {
      if (access(d.socket_.c_str(), F_OK) == 0) return d;
      usleep(10000);
    }
    return std::nullopt;
  }
  Daemon() = default;
  Daemon(Daemon&& o) noexcept : pid_(o.pid_), dir_(std::move(o.dir_)), socket_(std::move(o.socket_)) { o.pid_ = -1; }
  ~Daemon() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::string rm = "rm -rf '" + dir_ + "'";
    (void)!system(rm.c_str());
  }
  const std::string& socket() const { return socket_; }
  // utime + stime of the daemon so far, in ms.
  double CpuMs() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), {});
    auto close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::vector<std::string> fields;
    size_t at = close + 2;
    while (at < s.size()) {
      size_t sp = s.find(' ', at);
      fields.push_back(s.substr(at, sp - at));
      if (sp == std::string::npos) break;
      at = sp + 1;
    }
    if (fields.size() < 13) return 0;
    return double(std::stoull(fields[11]) + std::stoull(fields[12])) * 1000.0 / double(sysconf(_SC_CLK_TCK));
  }

 private:
  pid_t pid_ = -1;
  std::string dir_, socket_;
};

// Submit + Wait on an open connection, stdio /dev/null (the same fds each time). Returns wall ns
// and the task id, or 0 when the task failed.
uint64_t SubmitWait(cordon::daemon::ClientConnection& c, const Cmd& cmd, int devnull, std::string* id,
                    bool governance = false) {
  api::Request req;
  api::SubmitRequest* s = req.mutable_submit();
  if (governance) {  // docs/governance.md: a session, an action and an app, each with budgets
    s->set_session("bench-session");
    s->set_session_class("bench");
    s->set_action("bench-action");
    s->set_app_id("bench-app");
  }
  for (const auto& a : cmd) s->add_argv(a);
  s->set_stdio(true);
  const int fds[3] = {devnull, devnull, devnull};
  uint64_t t0 = NowNs();
  auto r = c.Call(req, fds, 3);
  if (!r || !r->has_submit()) return 0;
  *id = r->submit().task().task_id();
  api::Request w;
  w.mutable_wait()->set_task_id(*id);
  auto done = c.Call(w);
  uint64_t t = NowNs() - t0;
  if (!done || !done->has_wait() || done->wait().task().exit_code() != 0) return 0;
  return t;
}

std::optional<nlohmann::json> Evidence(cordon::daemon::ClientConnection& c, const std::string& id) {
  api::Request req;
  req.mutable_evidence()->set_task_id(id);
  auto r = c.Call(req);
  if (!r || !r->has_evidence()) return std::nullopt;
  auto j = nlohmann::json::parse(r->evidence().evidence_json(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// One contender: runs the program once per call; `worker` tells which worker thread calls.
struct Contender {
  std::string name;
  std::function<uint64_t(int worker)> once;
  uint64_t pace_ns = 0;  // sleep between runs of the latency series (not counted)
};

struct Result {
  Stats latency;
  double per_s[3] = {0, 0, 0};  // throughput with 1, 2 workers (index = workers)
};

// Runs per_worker runs on each of `workers` threads back to back; tasks per second overall.
double Throughput(const Contender& c, int workers, int per_worker) {
  std::atomic<int> ok{0};
  uint64_t t0 = NowNs();
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; ++w)
    ts.emplace_back([&, w] {
      for (int i = 0; i < per_worker; ++i)
        if (c.once(w) != 0) ++ok;
    });
  for (auto& t : ts) t.join();
  return double(ok.load()) / (double(NowNs() - t0) / 1e9);
}

std::string FindBwrap() {
  for (const char* p : {"/usr/bin/bwrap", "/usr/local/bin/bwrap"})
    if (access(p, X_OK) == 0) return p;
  return {};
}

std::string FindProgram(std::initializer_list<const char*> paths) {
  for (const char* p : paths)
    if (access(p, X_OK) == 0) return p;
  return {};
}

// Runs argv once with stderr kept; returns "" when it exited 0, else its stderr's first line (or
// how it ended): the reason a row is left out.
std::string ProbeRun(const Cmd& argv) {
  char tmpl[] = "/tmp/cordon-bench-probe-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "cannot create a temporary file";
  close(fd);
  pid_t pid = Spawn(argv, tmpl);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) status = -1;
  std::string why;
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    std::ifstream in(tmpl);
    std::getline(in, why);
    if (why.empty()) why = "exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  unlink(tmpl);
  return why;
}

// Every contender's latency series, interleaved: round i runs each contender once, starting at a
// rotating one, so that a loaded host's drift hits every row alike (ratios in one run stay
// comparable). Warm-up runs first, in the same order.
std::vector<Stats> InterleavedLatency(const std::vector<Contender>& cs, int iterations, int warmup) {
  const size_t n = cs.size();
  for (int i = 0; i < warmup; ++i)
    for (const Contender& c : cs) c.once(0);
  std::vector<std::vector<double>> ms(n);
  std::vector<size_t> failed(n, 0);
  for (int i = 0; i < iterations; ++i) {
    for (size_t k = 0; k < n; ++k) {
      const Contender& c = cs[(k + size_t(i)) % n];
      if (c.pace_ns) {
        timespec ts{time_t(c.pace_ns / 1000000000ull), long(c.pace_ns % 1000000000ull)};
        nanosleep(&ts, nullptr);
      }
      uint64_t t = c.once(0);
      if (t == 0) {
        ++failed[(k + size_t(i)) % n];
      } else {
        ms[(k + size_t(i)) % n].push_back(double(t) / 1e6);
      }
    }
  }
  std::vector<Stats> out;
  for (size_t k = 0; k < n; ++k) out.push_back(Summarize(ms[k], failed[k]));
  return out;
}

std::string Join(const Cmd& cmd) {
  std::string s;
  for (auto& a : cmd) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Median duration of each step of the evidence timelines: the supervisor's own marks, then the
// shim's setup steps (each lasts until the next one starts).
// `after_done`: per record, the client's wall time minus done_us (the daemon's evidence write and
// reply, and the client's side of the round trips), when the caller knows it.
void PrintTimeline(const std::string& title, const std::vector<nlohmann::json>& evidence,
                   const std::vector<double>& after_done = {}) {
  const char* order[] = {"admitted_us", "cgroup_us", "spawned_us", "ready_us", "exec_us", "exit_us", "done_us"};
  const char* label[] = {"admission (policy, BPF from cache)", "cgroup created and limited",
                         "shim spawned (clone+exec)",          "sandbox built (ns, maps, mounts)",
                         "task started (caps, seccomp, exec)", "task ran to exit",
                         "sandbox killed+reaped, usage read"};
  std::map<std::string, std::vector<double>> phases, setup;
  std::vector<std::string> setup_order;
  size_t pooled = 0;
  for (const auto& j : evidence) {
    const auto& t = j["timing"];
    if (j["sandbox"].value("pooled", false)) ++pooled;
    int64_t prev = 0;
    for (const char* k : order) {
      int64_t v = t.value(k, int64_t(-1));
      if (v == -1) continue;
      // Pooled: spawned and the setup steps lie before the request (negative): count from 0.
      phases[k].push_back(double(std::max<int64_t>(v - prev, 0)) / 1000.0);
      prev = std::max(prev, v);
    }
    const auto& st = t["steps"];
    for (size_t i = 0; i < st.size(); ++i) {
      std::string name = st[i].value("step", "");
      int64_t start = st[i].value("start_us", int64_t(0));
      // The last step (init-lockdown) begins after the exec: it ends there too, as far as setup goes.
      int64_t end = i + 1 < st.size() ? st[i + 1].value("start_us", int64_t(0)) : std::max(t.value("exec_us", start), start);
      if (!setup.count(name)) setup_order.push_back(name);
      setup[name].push_back(double(end - start) / 1000.0);
    }
  }
  std::printf("\n%s: median ms per phase over %zu evidence records (%zu pooled)\n\n", title.c_str(),
              evidence.size(), pooled);
  for (size_t i = 0; i < 7; ++i)
    if (!phases[order[i]].empty()) std::printf("  %-40s %7.3f\n", label[i], Median(phases[order[i]]));
  if (!after_done.empty())
    std::printf("  %-40s %7.3f\n", "evidence written, reply to the client", Median(after_done));
  std::printf("  setup steps inside the shim:\n");
  for (const auto& name : setup_order) std::printf("    %-38s %7.3f\n", name.c_str(), Median(setup[name]));
}

std::vector<nlohmann::json> ReadEvidenceLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

// What governance adds to cordond's admission step itself (docs/governance.md "Cost"): the
// Governor's Admit + Bind + Finished against a real state.db, for a Submit naming a session of a
// budgeted class and an app and tenant with envelopes, and for one naming neither (its fast
// path). Median microseconds of each, in the same run: the end-to-end A/B row above it is
// dominated by the host's noise on a shared machine.
void GovernanceAdmissionMicro(int iterations) {
  char tmpl[] = "/tmp/cordon-bench-governance-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return;
  const std::string dir = tmpl;
  namespace gov = cordon::governance;
  gov::SystemClock clock;
  auto g = gov::Governor::Open(dir + "/state.db", &clock, [](const std::string&, const std::string&, nlohmann::json) {});
  auto cfg = gov::ParseBudgets(
      R"({"version": 1, "session_classes": {"bench": {"budget": {"tasks": 1000000000, "cpu_ms": 1000000000}}},
          "apps": {"bench-app": {"tasks_per_day": 1000000000, "tasks_per_month": 1000000000}},
          "tenants": {"bench": {"cpu_ms_per_month": 1000000000}}})",
      "bench");
  if (!g || !cfg) {
    std::printf("(governance micro-benchmark left out: %s)\n",
                !g ? g.error().Message().c_str() : cfg.error().Message().c_str());
    return;
  }
  cordon::Policy policy;
  policy.name = "default";
  std::vector<double> finish_us;
  auto series = [&](bool governed) {
    std::vector<double> us;
    finish_us.clear();
    for (int i = 0; i < iterations; ++i) {
      gov::AdmitRequest r;
      r.principal = "bench";
      r.tenant = governed ? "bench" : "nobody";
      r.app_id = governed ? "bench-app" : "plain";
      r.session = governed ? "bench-session" : "";
      r.session_class = "bench";
      r.action = "a" + std::to_string(i % 8);
      r.policy = &policy;
      const uint64_t t0 = NowNs();
      gov::AdmitResult a = (*g)->Admit(*cfg, r);
      (*g)->Bind(i + 1);
      const uint64_t t1 = NowNs();
      (*g)->Finished(*cfg, i + 1, gov::Usage{1, 2, 0, 0});
      us.push_back(double(t1 - t0) / 1e3);
      finish_us.push_back(double(NowNs() - t1) / 1e3);
      if (a.refusal) std::printf("(governance micro-benchmark: refused: %s)\n", a.refusal->reason.c_str());
    }
    return Summarize(std::move(us), 0);
  };
  const Stats off = series(false);
  const Stats on = series(true);
  const Stats fin = Summarize(finish_us, 0);
  std::printf("\ngovernance admission step (Governor Admit+Bind on a state.db, %d runs): no session or envelope "
              "p50 %.1f us (p95 %.1f); session + app + tenant envelopes p50 %.1f us (p95 %.1f); difference %+.3f ms\n"
              "governance charge at the task's end (Finished, off the submit's path): p50 %.1f us (p95 %.1f)\n",
              iterations, off.p50, off.p95, on.p50, on.p95, (on.p50 - off.p50) / 1000.0, fin.p50, fin.p95);
  g->reset();
  std::string rm = "rm -rf '" + dir + "'";
  (void)!system(rm.c_str());
}

int main(int argc, char** argv) {
  int iterations = 200, warmup = 10, per_worker = 0;
  bool with_daemon = true;
  std::vector<int> worker_counts = {1, 2};
  std::string cordon = std::string(CORDON_BUILD_DIR) + "/bin/cordon";
  std::string cordond = std::string(CORDON_BUILD_DIR) + "/bin/cordond";
  std::vector<Cmd> programs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--iterations") {
      iterations = std::max(1, atoi(value().c_str()));
    } else if (a == "--warmup") {
      warmup = std::max(0, atoi(value().c_str()));
    } else if (a == "--quick") {
      iterations = 30;
      warmup = 3;
    } else if (a == "--per-worker") {
      per_worker = std::max(1, atoi(value().c_str()));
    } else if (a == "--no-daemon") {
      with_daemon = false;
    } else if (a == "--workers") {
      worker_counts.clear();
      std::string v = value();
      for (size_t at = 0; at < v.size();) {
        size_t comma = v.find(',', at);
        int n = atoi(v.substr(at, comma - at).c_str());
        if (n >= 1 && n <= 2) worker_counts.push_back(n);
        at = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else if (a == "--cordon") {
      cordon = value();
    } else if (a == "--cordond") {
      cordond = value();
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: cordon-bench [--iterations N] [--warmup N] [--quick] [--workers 1,2] [--per-worker N]\n"
          "                    [--no-daemon] [--cordon PATH] [--cordond PATH] [-- CMD...]\n"
          "Without CMD it measures /bin/true and `python3 -c pass`. docs/performance.md explains the output.\n");
      return 0;
    } else if (a == "--") {
      programs.push_back(Cmd(argv + i + 1, argv + argc));
      break;
    } else {
      programs.push_back(Cmd(argv + i, argv + argc));
      break;
    }
  }
  if (programs.empty()) programs = {{"/bin/true"}, {"/usr/bin/python3", "-c", "pass"}};
  if (per_worker == 0) per_worker = std::max(10, iterations / 4);

  // The daemons, each with its own socket and state: without a pool, with one, and with one and
  // decisions committed to the OS rather than fdatasync'd each (--decision-sync os).
  struct DaemonRow {
    std::string name;
    std::optional<Daemon> d;
    uint64_t pace_ns = 0;
    std::optional<cordon::daemon::ClientConnection> conn[2];  // one per worker, opened ahead
    std::vector<std::string> ids;                            // worker 0's tasks, for the timelines
    std::vector<double> walls_ms;                            // and their wall times
    double cpu_per_task_ms = 0;
    bool governance = false;  // submits name a session and a budgeted app (docs/governance.md)
    // Tasks this daemon ran, from every row that uses it (the `cordon submit` row shares the warm
    // pool's daemon): what its CPU is divided by.
    std::shared_ptr<std::atomic<uint64_t>> runs = std::make_shared<std::atomic<uint64_t>>(0);
  };
  std::vector<DaemonRow> daemons;
  if (with_daemon) {
    // The pool builds one sandbox at a time: the latency series leaves it time to (20 ms between
    // runs, not counted); the throughput runs do not, and show what a drained pool gives.
    const struct {
      const char* name;
      size_t pool;
      bool sync_each;
      uint64_t pace_ns;
      bool governance = false;
    } kinds[] = {{"cordond submit+wait, cold", 0, true, 0},
                 {"cordond submit+wait, warm pool", 2, true, 20'000'000ull},
                 {"cordond warm pool, decision-sync os", 2, false, 20'000'000ull},
                 // The A/B of governance's admission cost: the warm-pool row again, with a
                 // session and app and tenant envelopes (both medians printed below the table).
                 {"cordond warm pool, session+envelopes", 2, true, 20'000'000ull, true}};
    for (const auto& k : kinds) {
      DaemonRow& r = daemons.emplace_back();
      r.name = k.name;
      r.pace_ns = k.pace_ns;
      r.governance = k.governance;
      if (auto d = Daemon::Start(cordond, k.pool, k.sync_each, k.governance)) r.d.emplace(std::move(*d));
      if (!r.d) {
        std::printf("(cordond did not start: row '%s' is left out)\n", k.name);
        daemons.pop_back();
      }
    }
  }
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::string bwrap = FindBwrap();
  std::vector<std::pair<std::string, std::string>> oci_runtimes;
  for (const auto& [rt, path] : {std::pair<const char*, std::string>{"crun", FindProgram({"/usr/bin/crun", "/usr/local/bin/crun"})},
                                 {"runc", FindProgram({"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/bin/runc"})}})
    if (!path.empty()) oci_runtimes.emplace_back(rt, path);
  std::vector<std::string> oci_bundles;  // removed at the end

  for (const Cmd& cmd : programs) {
    std::vector<Contender> cs;
    cs.push_back({"bare fork+exec+wait", [&](int) { return SpawnWait(cmd); }});
    Cmd run = {cordon, "run", "--"};
    run.insert(run.end(), cmd.begin(), cmd.end());
    cs.push_back({"cordon run (one-shot)", [run](int) { return SpawnWait(run); }});
    // One connection per worker, opened before the clock starts: what a long-lived client has.
    for (DaemonRow& r : daemons) {
      r.ids.clear();
      r.walls_ms.clear();
      for (auto& c : r.conn) {
        c.reset();
        if (auto o = cordon::daemon::ClientConnection::Open(r.d->socket())) c.emplace(std::move(*o));
      }
      Contender c{r.name, [&r, &cmd, devnull](int w) {
                    ++*r.runs;
                    std::string id;
                    uint64_t t = r.conn[w] ? SubmitWait(*r.conn[w], cmd, devnull, &id, r.governance) : 0;
                    if (w == 0 && t != 0) {
                      r.ids.push_back(id);
                      r.walls_ms.push_back(double(t) / 1e6);
                    }
                    return t;
                  }};
      c.pace_ns = r.pace_ns;
      cs.push_back(c);
    }
    // What a shell user gets from the pool: the `cordon submit` CLI (attached), started per task,
    // against the warm-pool daemon. Its own start is in the figure, as it is in `cordon run`'s.
    for (DaemonRow& r : daemons) {
      if (r.name != "cordond submit+wait, warm pool") continue;
      Cmd sub = {cordon, "submit", "--socket", r.d->socket(), "--"};
      sub.insert(sub.end(), cmd.begin(), cmd.end());
      Contender c{"cordon submit (CLI), warm pool", [sub, runs = r.runs](int) {
                    ++*runs;
                    return SpawnWait(sub);
                  }};
      c.pace_ns = r.pace_ns;
      cs.push_back(c);
    }
    // crun and runc (Debian's packages) on a bundle of the same shape as bubblewrap's row, where a
    // probe run works on this host (crun 1.8 refuses hybrid cgroup hosts, for one).
    for (const auto& [rt, path] : oci_runtimes) {
      const std::string bundle = bench::MakeOciBundle(cmd);
      if (bundle.empty()) continue;
      oci_bundles.push_back(bundle);
      auto seq = std::make_shared<std::atomic<uint64_t>>(0);
      auto argv_of = [rt = rt, path = path, bundle, seq] {
        std::string id = "cordon-bench-" + std::to_string(getpid()) + "-" + std::to_string((*seq)++);
        // Their state in the bundle (`--root`): an unprivileged user cannot write /run/runc.
        Cmd c = {path, "--root", bundle + "/state"};
        if (rt == "crun") c.push_back("--cgroup-manager=disabled");
        c.insert(c.end(), {"run", "--bundle", bundle, id});
        return c;
      };
      const std::string why = ProbeRun(argv_of());
      if (!why.empty()) {
        std::printf("(%s: row left out, its probe run failed: %s)\n", rt.c_str(), why.c_str());
        continue;
      }
      cs.push_back({rt + " run (OCI bundle)", [argv_of](int) { return SpawnWait(argv_of()); }});
    }
    if (!bwrap.empty()) {
      Cmd b = {bwrap,       "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
               "--symlink", "usr/bin",       "/bin",              "--symlink",     "usr/lib",   "/lib",
               "--symlink", "usr/lib64",     "/lib64",            "--symlink",     "usr/sbin",  "/sbin",
               "--ro-bind", "/etc/alternatives", "/etc/alternatives", "--ro-bind", "/etc/ld.so.cache",
               "/etc/ld.so.cache", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--"};
      b.insert(b.end(), cmd.begin(), cmd.end());
      cs.push_back({"bubblewrap (--unshare-all)", [b](int) { return SpawnWait(b); }});
    }

    std::vector<Result> res(cs.size());
    {  // latency: interleaved; cordond's CPU per task over its own row's runs
      std::vector<double> cpu0(daemons.size());
      std::vector<uint64_t> runs0(daemons.size());
      for (size_t k = 0; k < daemons.size(); ++k) {
        cpu0[k] = daemons[k].d->CpuMs();
        runs0[k] = daemons[k].runs->load();
      }
      const std::vector<Stats> lat = InterleavedLatency(cs, iterations, warmup);
      for (size_t i = 0; i < cs.size(); ++i) res[i].latency = lat[i];
      for (size_t k = 0; k < daemons.size(); ++k) {
        const uint64_t n = daemons[k].runs->load() - runs0[k];
        daemons[k].cpu_per_task_ms = n ? (daemons[k].d->CpuMs() - cpu0[k]) / double(n) : 0;
      }
    }
    for (size_t i = 0; i < cs.size(); ++i)
      for (int w : worker_counts) res[i].per_s[w] = Throughput(cs[i], w, per_worker);

    const double bare = res[0].latency.p50;
    double bw = 0;
    for (size_t i = 0; i < cs.size(); ++i)
      if (cs[i].name == "bubblewrap (--unshare-all)") bw = res[i].latency.p50;
    std::printf("\ncordon-bench: `%s`, %d runs per contender (+%d warm-up), wall ms per run\n\n", Join(cmd).c_str(),
                iterations, warmup);
    std::printf("| %-36s | %7s | %7s | %7s | %8s | %9s |", "contender", "p50", "p95", "p99", "p50/bare", "p50/bwrap");
    for (int w : worker_counts) std::printf(" %d worker%s/s | vs bare |", w, w == 1 ? " " : "s");
    std::printf(" failed\n|--------------------------------------|---------|---------|---------|----------|-----------|");
    for (size_t k = 0; k < worker_counts.size(); ++k) std::printf("-------------|---------|");
    std::printf("-------\n");
    for (size_t i = 0; i < cs.size(); ++i) {
      const Stats& s = res[i].latency;
      std::printf("| %-36s | %7.2f | %7.2f | %7.2f | %7.2fx |", cs[i].name.c_str(), s.p50, s.p95, s.p99,
                  bare > 0 ? s.p50 / bare : 0);
      if (bw > 0) {
        std::printf(" %8.2fx |", s.p50 / bw);
      } else {
        std::printf(" %9s |", "n/a");
      }
      for (int w : worker_counts)
        std::printf(" %11.1f | %6.2fx |", res[i].per_s[w], res[0].per_s[w] > 0 ? res[i].per_s[w] / res[0].per_s[w] : 0);
      std::printf(" %zu\n", s.failed);
    }
    if (bwrap.empty()) std::printf("\n(bubblewrap not installed: apt-get install bubblewrap to compare)\n");
    {  // governance A/B: the same warm pool with and without sessions and envelopes, this run
      const Stats* a = nullptr;
      const Stats* b = nullptr;
      for (size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].name == "cordond submit+wait, warm pool") a = &res[i].latency;
        if (cs[i].name == "cordond warm pool, session+envelopes") b = &res[i].latency;
      }
      if (a && b) {
        std::printf("\ngovernance admission A/B (pooled submit+wait p50): without %.3f ms, with session+envelopes "
                    "%.3f ms, difference %+.3f ms (docs/governance.md)\n",
                    a->p50, b->p50, b->p50 - a->p50);
        GovernanceAdmissionMicro(std::max(iterations, 200));
      }
    }
    if (!daemons.empty()) {
      std::printf("\ncordond CPU per task (utime+stime over the latency series; with a pool it includes building\n"
                  "the sandbox that replaces the one taken):\n");
      for (const DaemonRow& r : daemons) std::printf("  %-40s %7.3f ms\n", r.name.c_str(), r.cpu_per_task_ms);
    }

    // Where the time goes: `cordon run`'s own evidence, and the warm pool's from the daemon.
    char tmpl[] = "/tmp/cordon-bench-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
      close(fd);
      Cmd ce = {cordon, "run", "--evidence", tmpl, "--"};
      ce.insert(ce.end(), cmd.begin(), cmd.end());
      for (int i = 0; i < std::min(iterations, 100); ++i) SpawnWait(ce);
      PrintTimeline("`cordon run`", ReadEvidenceLines(tmpl));
      unlink(tmpl);
    }
    for (DaemonRow& r : daemons) {
      if (!r.conn[0]) continue;
      std::vector<nlohmann::json> ev;
      std::vector<double> after;
      for (size_t i = 0; i < r.ids.size() && ev.size() < 100; ++i) {
        auto j = Evidence(*r.conn[0], r.ids[i]);
        if (!j) continue;
        after.push_back(r.walls_ms[i] - double((*j)["timing"].value("done_us", int64_t(0))) / 1000.0);
        ev.push_back(std::move(*j));
      }
      PrintTimeline(r.name + " (latency series)", ev, after);
    }
  }
  for (const std::string& b : oci_bundles) bench::RemoveOciBundle(b);
  return 0;
}
