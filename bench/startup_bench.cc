// cordon-bench: sandbox start-up cost against its baselines, measured in one run on one machine.
//
//   cordon-bench [--iterations N] [--warmup N] [--cordon PATH] [CMD...]   (CMD defaults to /bin/true)
//
// For each contender it spawns the whole command N times (posix_spawn + waitpid from this driver,
// the same for all), and prints p50/p95/p99 wall time and the ratios against a bare fork+exec of the
// same program and against bubblewrap with comparable isolation. Then it runs `cordon run
// --evidence` N times and prints the median of each step of Cordon's own timeline.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Spawns argv with stdout/stderr to /dev/null (or `out_fd`), returns wall ns, or 0 on failure.
uint64_t SpawnWait(const std::vector<std::string>& argv, int out_fd = -1) {
  std::vector<char*> av;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  uint64_t t0 = NowNs();
  pid_t pid;
  int rc = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return 0;
  int status;
  waitpid(pid, &status, 0);
  uint64_t t = NowNs() - t0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : 0;
}

struct Stats {
  double p50 = 0, p95 = 0, p99 = 0, mean = 0;
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
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  return s;
}

Stats Measure(const std::vector<std::string>& argv, int iterations, int warmup) {
  for (int i = 0; i < warmup; ++i) SpawnWait(argv);
  std::vector<double> ms;
  size_t failed = 0;
  for (int i = 0; i < iterations; ++i) {
    uint64_t t = SpawnWait(argv);
    if (t == 0) {
      ++failed;
    } else {
      ms.push_back(double(t) / 1e6);
    }
  }
  return Summarize(ms, failed);
}

std::string FindBwrap() {
  for (const char* p : {"/usr/bin/bwrap", "/usr/local/bin/bwrap"})
    if (access(p, X_OK) == 0) return p;
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 200, warmup = 10;
  std::string cordon = std::string(CORDON_BUILD_DIR) + "/bin/cordon";
  std::vector<std::string> cmd;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::max(1, atoi(argv[++i]));
    } else if (a == "--warmup" && i + 1 < argc) {
      warmup = std::max(0, atoi(argv[++i]));
    } else if (a == "--cordon" && i + 1 < argc) {
      cordon = argv[++i];
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: cordon-bench [--iterations N] [--warmup N] [--cordon PATH] [CMD...]\n");
      return 0;
    } else {
      cmd.assign(argv + i, argv + argc);
      break;
    }
  }
  if (cmd.empty()) cmd = {"/bin/true"};

  struct Row {
    std::string name;
    Stats s;
  };
  std::vector<Row> rows;
  rows.push_back({"bare fork+exec+wait", Measure(cmd, iterations, warmup)});
  std::vector<std::string> c = {cordon, "run", "--"};
  c.insert(c.end(), cmd.begin(), cmd.end());
  rows.push_back({"cordon run (default policy)", Measure(c, iterations, warmup)});
  // The same run with the BPF cache off: what compiling the profile per task would cost.
  setenv("CORDON_NO_BPF_CACHE", "1", 1);
  rows.push_back({"cordon run, BPF compiled per run", Measure(c, iterations / 2 + 1, warmup)});
  unsetenv("CORDON_NO_BPF_CACHE");
  // And with per-task cgroups off (rlimits only): the difference is what the cgroup costs
  // (create, limit, place, read, remove).
  setenv("CORDON_CGROUPS", "off", 1);
  rows.push_back({"cordon run, no cgroup (rlimits)", Measure(c, iterations / 2 + 1, warmup)});
  unsetenv("CORDON_CGROUPS");
  std::string bwrap = FindBwrap();
  if (!bwrap.empty()) {
    std::vector<std::string> b = {bwrap, "--unshare-all", "--die-with-parent", "--new-session",
                                  "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                                  "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                                  "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc/alternatives", "/etc/alternatives",
                                  "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache",
                                  "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--"};
    b.insert(b.end(), cmd.begin(), cmd.end());
    rows.push_back({"bubblewrap (--unshare-all)", Measure(b, iterations, warmup)});
  }

  std::string what;
  for (auto& a : cmd) what += (what.empty() ? "" : " ") + a;
  std::printf("cordon-bench: `%s`, %d iterations (+%d warm-up), wall time per run in ms\n\n", what.c_str(),
              iterations, warmup);
  std::printf("| %-34s | %8s | %8s | %8s | %9s | %9s | %s\n", "contender", "p50", "p95", "p99", "p50/bare",
              "p50/bwrap", "failed");
  std::printf("|------------------------------------|----------|----------|----------|-----------|-----------|-------\n");
  double bare = rows[0].s.p50;
  double bw = bwrap.empty() ? 0 : rows.back().s.p50;
  for (auto& r : rows) {
    std::printf("| %-34s | %8.2f | %8.2f | %8.2f | %8.2fx |", r.name.c_str(), r.s.p50, r.s.p95, r.s.p99,
                bare > 0 ? r.s.p50 / bare : 0);
    if (bw > 0) {
      std::printf(" %8.2fx |", r.s.p50 / bw);
    } else {
      std::printf(" %9s |", "n/a");
    }
    std::printf(" %zu\n", r.s.failed);
  }
  if (bwrap.empty()) std::printf("\n(bubblewrap not installed: apt-get install bubblewrap to compare)\n");

  // Where Cordon's time goes, from its own evidence timeline (medians over the runs).
  char tmpl[] = "/tmp/cordon-bench-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return 0;
  std::vector<std::string> ce = {cordon, "run", "--evidence", tmpl, "--"};
  ce.insert(ce.end(), cmd.begin(), cmd.end());
  int n = std::min(iterations, 100);
  for (int i = 0; i < n; ++i) SpawnWait(ce);
  close(fd);
  std::map<std::string, std::vector<double>> steps;
  std::vector<std::string> setup_order;
  std::map<std::string, std::vector<double>> setup;
  std::ifstream f(tmpl);
  std::string line;
  const char* order[] = {"admitted_us", "spawned_us", "ready_us", "exec_us", "exit_us", "done_us"};
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    // Setup steps as the shim stamped them: each lasts until the next one starts.
    auto& st = j["timing"]["steps"];
    for (size_t i = 0; i + 1 <= st.size(); ++i) {
      std::string name = st[i].value("step", "");
      int64_t start = st[i].value("start_us", int64_t(0));
      int64_t end = i + 1 < st.size() ? st[i + 1].value("start_us", int64_t(0)) : j["timing"].value("exec_us", start);
      if (!setup.count(name)) setup_order.push_back(name);
      setup[name].push_back(double(end - start) / 1000.0);
    }
    int64_t prev = 0;
    for (const char* k : order) {
      int64_t v = j["timing"].value(k, int64_t(-1));
      if (v < 0) break;
      steps[k].push_back(double(v - prev) / 1000.0);
      prev = v;
    }
  }
  unlink(tmpl);
  const char* label[] = {"policy + BPF (cache) loaded", "shim spawned (clone3+exec)",
                         "sandbox built (ns, maps, mounts)", "task started (caps, seccomp, exec)",
                         "task ran to exit", "sandbox processes killed+reaped, reported"};
  std::printf("\nWhere `cordon run` spends its time (median ms per step, from %d evidence records;\n"
              "the CLI's own process start before main() is the rest of the p50 above):\n\n", n);
  for (size_t i = 0; i < 6; ++i) {
    auto& v = steps[order[i]];
    if (v.empty()) continue;
    std::printf("  %-40s %7.3f\n", label[i], Summarize(v, 0).p50);
  }
  std::printf("\nSetup steps inside the shim (median ms from the step's start to the next step's;\n"
              "`exec` ends when the command's execve returned):\n\n");
  for (const auto& name : setup_order) std::printf("  %-40s %7.3f\n", name.c_str(), Summarize(setup[name], 0).p50);
  return 0;
}
