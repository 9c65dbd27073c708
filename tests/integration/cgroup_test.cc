// tests/integration/cgroup_test.cc: TaskCgroup against the host's real cgroupfs. Needs a writable
// cgroup hierarchy (root, or a delegated cgroup2 subtree); skips otherwise. Uses its own subtree
// (cordon-test-<pid>.slice) in every hierarchy so it never touches a running daemon's cordon.slice, and removes it at the end.
#include "supervisor/cgroup/task_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/syscalls.h"
#include "tests/support/cgroup_child.h"

namespace cordon::cgroup {
namespace {

using ::testing::HasSubstr;
using test::ReadAll;
using test::TouchMiB;
using test::WaitStatus;

Layout* g_layout = nullptr;
std::string g_skip;

std::vector<std::string> Bases(const Layout& l) {
  std::vector<std::string> out;
  if (!l.v2_base_dir.empty()) out.push_back(l.v2_base_dir);
  for (int i : l.UsedV1()) out.push_back(l.v1[static_cast<size_t>(i)].base_dir);
  return out;
}

std::vector<std::string> Subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      out.emplace_back(e->d_name);
    }
  }
  ::closedir(d);
  return out;
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

class CgroupEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    // Rootless too, where the host delegated a cgroup2 subtree to this user (the pure v2 VM of
    // scripts/v2vm/run.sh does, as systemd's user@.service does); the layout decides.
    BaseOptions o;
    o.subtree = "cordon-test-" + std::to_string(::getpid()) + ".slice";
    auto l = DetectLayout(o);
    if (!l) {
      g_skip = "cannot detect the cgroup layout: " + l.error().Message();
      return;
    }
    if (!l->no_cgroup_reason.empty()) {
      g_skip = "no cgroup write access: " + l->no_cgroup_reason;
      return;
    }
    auto p = PrepareBase(*l);
    if (!p) {
      g_skip = "no cgroup write access: " + p.error().Message();
      return;
    }
    g_layout = new Layout(std::move(*l));
    // Grandchildren re-parent to us, so every test can reap what it started.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  void TearDown() override {
    if (g_layout == nullptr) return;
    for (const std::string& b : Bases(*g_layout)) ::rmdir(b.c_str());
    delete g_layout;
    g_layout = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new CgroupEnv);

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_layout == nullptr) GTEST_SKIP() << g_skip;
  }
  void TearDown() override {
    // Reap anything a test left behind (children and re-parented grandchildren).
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  const Layout& L() { return *g_layout; }
  std::string Id(const std::string& name) { return name + "-" + std::to_string(::getpid()); }
};

// Forks a child that blocks until it has been attached to the task cgroup, then runs body and
// exits with its return value. The pipe makes sure no work happens outside the cgroup.
pid_t ForkAttached(TaskCgroup& cg, const std::function<int()>& body) {
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(120);
    ::_exit(body());
  }
  ::close(go[0]);
  auto r = cg.AttachPid(pid);
  EXPECT_TRUE(r) << r.error().Message();
  char c = 'g';
  EXPECT_EQ(::write(go[1], &c, 1), 1);
  ::close(go[1]);
  return pid;
}

void PrintFigure(const char* name, const Figure& f) {
  if (f.value) {
    std::printf("  %-20s %14llu  from %s\n", name, static_cast<unsigned long long>(*f.value), f.source.c_str());
  } else {
    std::printf("  %-20s %14s  (%s)\n", name, "unavailable", f.unavailable.c_str());
  }
}

TEST_F(CgroupTest, LayoutOfThisHost) {
  std::printf("mode %s, v2 mount %s, v2 base %s, kill %s\n", std::string(ModeName(L().mode)).c_str(),
              L().v2_mount.c_str(), L().v2_base_dir.c_str(), L().v2_has_kill ? "cgroup.kill" : "v1 loop");
  for (const std::string& b : Bases(L())) std::printf("  base %s\n", b.c_str());
  EXPECT_FALSE(Bases(L()).empty());
}

TEST_F(CgroupTest, ReadUsageOfRealChild) {
  auto cg = TaskCgroup::Create(L(), Id("usage"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  pid_t pid = ForkAttached(*cg, [] {
    if (TouchMiB(24) != 0) return 2;
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < 50'000'000; ++i) x = x + i;
    pid_t g = ::fork();  // a grandchild, also inside the task cgroup
    if (g == 0) ::_exit(TouchMiB(4));
    int st = 0;
    ::waitpid(g, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 3;
  });
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;

  auto u = cg->ReadUsage();
  ASSERT_TRUE(u) << u.error().Message();
  std::printf("usage of a child that touched 24 MiB and forked once:\n");
  PrintFigure("cpu_user_usec", u->cpu_user_usec);
  PrintFigure("cpu_system_usec", u->cpu_system_usec);
  PrintFigure("memory_peak_bytes", u->memory_peak_bytes);
  PrintFigure("memory_current_bytes", u->memory_current_bytes);
  PrintFigure("pids_peak", u->pids_peak);
  PrintFigure("io_read_bytes", u->io_read_bytes);
  PrintFigure("io_write_bytes", u->io_write_bytes);
  PrintFigure("oom_kills", u->oom_kills);
  if (u->cpu_pressure.value) {
    std::printf("  cpu.pressure some total %llu usec from %s\n",
                static_cast<unsigned long long>(u->cpu_pressure.value->some->total_usec), u->cpu_pressure.source.c_str());
  }
  ASSERT_TRUE(u->cpu_user_usec.value);
  ASSERT_TRUE(u->cpu_system_usec.value);
  EXPECT_GT(*u->cpu_user_usec.value + *u->cpu_system_usec.value, 0u);
  EXPECT_FALSE(u->cpu_user_usec.source.empty());
  ASSERT_TRUE(u->memory_peak_bytes.value) << u->memory_peak_bytes.unavailable;
  EXPECT_GE(*u->memory_peak_bytes.value, 24u << 20);
  ASSERT_TRUE(u->pids_peak.value) << u->pids_peak.unavailable;
  EXPECT_GE(*u->pids_peak.value, 2u);
  ASSERT_TRUE(u->oom_kills.value);
  EXPECT_EQ(*u->oom_kills.value, 0u);
  EXPECT_TRUE(cg->Remove());
}

// The running checks' narrow reads (the CPU budget's ReadCpu, the pool's ReadMemoryCurrent) give
// the figures ReadUsage gives, from the same files, once the task's processes are gone.
TEST_F(CgroupTest, NarrowReadsAgreeWithReadUsage) {
  auto cg = TaskCgroup::Create(L(), Id("narrow"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  pid_t pid = ForkAttached(*cg, [] {
    if (TouchMiB(8) != 0) return 2;
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < 30'000'000; ++i) x = x + i;
    return 0;
  });
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  auto u = cg->ReadUsage(TaskCgroup::Psi::kSkip);
  ASSERT_TRUE(u) << u.error().Message();
  auto c = cg->ReadCpu();
  ASSERT_TRUE(c) << c.error().Message();
  ASSERT_TRUE(u->cpu_user_usec.value && u->cpu_system_usec.value);
  ASSERT_TRUE(c->cpu_user_usec.value && c->cpu_system_usec.value);
  EXPECT_GT(*c->cpu_user_usec.value, 0u);
  EXPECT_EQ(*c->cpu_user_usec.value, *u->cpu_user_usec.value);
  EXPECT_EQ(*c->cpu_system_usec.value, *u->cpu_system_usec.value);
  EXPECT_EQ(c->cpu_user_usec.source, u->cpu_user_usec.source);
  EXPECT_FALSE(c->memory_current_bytes.value) << "ReadCpu reads the CPU figures only";
  auto m = cg->ReadMemoryCurrent();
  ASSERT_TRUE(m) << m.error().Message();
  EXPECT_EQ(m->has_value(), u->memory_current_bytes.value.has_value());
  if (m->has_value()) {
    EXPECT_EQ(**m, *u->memory_current_bytes.value);
  }
  EXPECT_TRUE(cg->Remove());
}

TEST_F(CgroupTest, MemoryLimitOomKills) {
  Limits lim;
  lim.memory_bytes = 32u << 20;
  auto cg = TaskCgroup::Create(L(), Id("oom"), lim);
  ASSERT_TRUE(cg) << cg.error().Message();
  pid_t pid = ForkAttached(*cg, [] { return TouchMiB(100); });
  int st = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(st)) << "status " << st;
  EXPECT_EQ(WIFSIGNALED(st) ? WTERMSIG(st) : 0, SIGKILL);
  auto u = cg->ReadUsage();
  ASSERT_TRUE(u) << u.error().Message();
  ASSERT_TRUE(u->oom_kills.value) << u->oom_kills.unavailable;
  EXPECT_GE(*u->oom_kills.value, 1u);
  ASSERT_TRUE(u->memory_peak_bytes.value);
  EXPECT_LE(*u->memory_peak_bytes.value, 32u << 20);
  std::printf("oom_kills %llu from %s, peak %llu\n", static_cast<unsigned long long>(*u->oom_kills.value),
              u->oom_kills.source.c_str(), static_cast<unsigned long long>(*u->memory_peak_bytes.value));
}

TEST_F(CgroupTest, PidsLimitFailsTheNinthProcess) {
  Limits lim;
  lim.pids = 8;
  auto cg = TaskCgroup::Create(L(), Id("pids"), lim);
  ASSERT_TRUE(cg) << cg.error().Message();
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  pid_t pid = ForkAttached(*cg, [&] {
    // We are process 1 of 8; forks 2..8 succeed, the 9th process must fail with EAGAIN.
    int ok = 0;
    int err = 0;
    for (int i = 0; i < 20; ++i) {
      pid_t c = ::fork();
      if (c == 0) {
        ::pause();
        ::_exit(0);
      }
      if (c < 0) {
        err = errno;
        break;
      }
      ++ok;
    }
    int msg[2] = {ok, err};
    (void)!::write(report[1], msg, sizeof msg);
    ::pause();
    return 0;
  });
  ::close(report[1]);
  int msg[2] = {-1, -1};
  ASSERT_EQ(::read(report[0], msg, sizeof msg), static_cast<ssize_t>(sizeof msg));
  ::close(report[0]);
  EXPECT_EQ(msg[0], 7) << "forks that succeeded";
  EXPECT_EQ(msg[1], EAGAIN) << std::strerror(msg[1]);
  auto u = cg->ReadUsage();
  ASSERT_TRUE(u);
  if (u->pids_peak.value) {
    EXPECT_EQ(*u->pids_peak.value, 8u);
  }
  ASSERT_TRUE(cg->Kill()) << "kill";
  int st = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  EXPECT_TRUE(cg->Remove());
}

TEST_F(CgroupTest, KillTreeOfProcessGroups) {
  auto cg = TaskCgroup::Create(L(), Id("kill"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  pid_t pid = ForkAttached(*cg, [&] {
    for (int i = 0; i < 5; ++i) {
      pid_t c = ::fork();
      if (c == 0) {
        ::setpgid(0, 0);  // own process group: a killpg of the parent's group would miss it
        pid_t self = ::getpid();
        (void)!::write(report[1], &self, sizeof self);
        for (;;) ::sleep(100);
      }
    }
    for (;;) ::sleep(100);
    return 0;
  });
  ::close(report[1]);
  std::vector<pid_t> kids;
  for (int i = 0; i < 5; ++i) {
    pid_t k = 0;
    ASSERT_EQ(::read(report[0], &k, sizeof k), static_cast<ssize_t>(sizeof k));
    EXPECT_EQ(::getpgid(k), k);
    kids.push_back(k);
  }
  ::close(report[0]);

  auto t0 = std::chrono::steady_clock::now();
  auto k = cg->Kill();
  auto dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(k) << k.error().Message();
  std::printf("Kill() of 6 processes took %.2f ms\n", dt);
  int st = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  for (pid_t kid : kids) {
    int s = WaitStatus(kid);  // re-parented to us (subreaper) once their parent died
    EXPECT_TRUE(WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL) << kid;
  }
  for (const std::string& d : cg->Dirs()) EXPECT_EQ(ReadAll(d + "/cgroup.procs"), "") << d;
  ASSERT_TRUE(cg->Remove());
}

TEST_F(CgroupTest, RemoveLeavesNoDirectoryAndIsIdempotent) {
  auto cg = TaskCgroup::Create(L(), Id("remove"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  std::vector<std::string> dirs = cg->Dirs();
  ASSERT_FALSE(dirs.empty());
  for (const std::string& d : dirs) EXPECT_TRUE(Exists(d)) << d;
  ASSERT_TRUE(cg->Remove());
  for (const std::string& d : dirs) EXPECT_FALSE(Exists(d)) << d;
  EXPECT_TRUE(cg->Remove());

  // The destructor removes too, and a moved-from owner does not.
  std::vector<std::string> moved_dirs;
  {
    auto a = TaskCgroup::Create(L(), Id("moved"), {});
    ASSERT_TRUE(a);
    TaskCgroup b = std::move(*a);
    moved_dirs = b.Dirs();
    for (const std::string& d : moved_dirs) EXPECT_TRUE(Exists(d)) << d;
  }
  for (const std::string& d : moved_dirs) EXPECT_FALSE(Exists(d)) << d;

  // Same name twice is refused, and the failed Create leaves the first alone.
  auto first = TaskCgroup::Create(L(), Id("dup"), {});
  ASSERT_TRUE(first);
  auto second = TaskCgroup::Create(L(), Id("dup"), {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().err, EEXIST);
  for (const std::string& d : first->Dirs()) EXPECT_TRUE(Exists(d)) << d;
  EXPECT_FALSE(TaskCgroup::Create(L(), "../escape", {}));
}

struct Timing {
  double create_us, read_us, remove_us, total_median_us, total_p90_us;
};

// Create + limits + ReadUsage + Remove, n times, with no process in the cgroup.
Timing TimeTasks(const Layout& l, const std::string& prefix, int n, TaskCgroup::Psi psi) {
  Limits lim;
  lim.memory_bytes = 256u << 20;
  lim.pids = 64;
  std::vector<double> create_us, read_us, remove_us, total_us;
  auto us = [](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count(); };
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto cg = TaskCgroup::Create(l, prefix + std::to_string(i), lim);
    auto t1 = std::chrono::steady_clock::now();
    EXPECT_TRUE(cg) << cg.error().Message();
    if (!cg) break;
    auto u = cg->ReadUsage(psi);
    auto t2 = std::chrono::steady_clock::now();
    EXPECT_TRUE(u) << u.error().Message();
    EXPECT_TRUE(cg->Remove());
    auto t3 = std::chrono::steady_clock::now();
    create_us.push_back(us(t0, t1));
    read_us.push_back(us(t1, t2));
    remove_us.push_back(us(t2, t3));
    total_us.push_back(us(t0, t3));
  }
  auto pct = [](std::vector<double> v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(static_cast<double>(v.size()) * q)];
  };
  return {pct(create_us, 0.5), pct(read_us, 0.5), pct(remove_us, 0.5), pct(total_us, 0.5), pct(total_us, 0.9)};
}

void PrintTiming(const char* what, size_t hierarchies, const Timing& t) {
  std::printf("%s (%zu hierarchies, memory+pids limits): create+limits %.1f us, ReadUsage %.1f us, remove %.1f us; "
              "total median %.1f us, p90 %.1f us\n",
              what, hierarchies, t.create_us, t.read_us, t.remove_us, t.total_median_us, t.total_p90_us);
}

TEST_F(CgroupTest, FiveHundredCreateRemoveLeaveNothing) {
  Timing t = TimeTasks(L(), Id("bulk"), 500, TaskCgroup::Psi::kInclude);
  PrintTiming("per task over 500, with PSI", Bases(L()).size(), t);
  for (const std::string& b : Bases(L())) EXPECT_THAT(Subdirs(b), ::testing::IsEmpty()) << b;

  // Overhead report only (no timed assertion): the same without PSI, and without v1 blkio.
  Timing no_psi = TimeTasks(L(), Id("nopsi"), 500, TaskCgroup::Psi::kSkip);
  PrintTiming("per task over 500, without PSI", Bases(L()).size(), no_psi);
  if (L().Of(Controller::kIo).where == Where::kV1) {
    Layout no_io = L();
    const Placement& io = L().Of(Controller::kIo);
    bool shared = io.v1_index == L().Of(Controller::kMemory).v1_index || io.v1_index == L().Of(Controller::kPids).v1_index;
    if (!shared) no_io.v1[static_cast<size_t>(io.v1_index)].base_dir.clear();
    Timing t2 = TimeTasks(no_io, Id("noio"), 500, TaskCgroup::Psi::kInclude);
    PrintTiming("per task over 500, with PSI, without v1 blkio", Bases(no_io).size(), t2);
  }
  for (const std::string& b : Bases(L())) EXPECT_THAT(Subdirs(b), ::testing::IsEmpty()) << b;
}

// Leftovers of supervisors killed with SIGKILL. Without an owner mark (an older Cordon): empty
// task cgroups go, populated ones stay. With one: a live owner's stay whatever they hold; a dead
// owner's go once old, or whatever their age when they are the sweeping cordond's own earlier
// run's, and what still runs inside them is killed.
TEST_F(CgroupTest, SweepRemovesOnlyEmptyTaskCgroups) {
  const std::string empty_name = "task-sweep-empty-" + std::to_string(::getpid());
  const std::string busy_name = "task-sweep-busy-" + std::to_string(::getpid());
  auto empty = TaskCgroup::Create(L(), empty_name, {});
  auto busy = TaskCgroup::Create(L(), busy_name, {});
  ASSERT_TRUE(empty && busy);
  // Created by this live process: marked, and the mark says so.
  char mark[128] = {};
  ASSERT_GT(::getxattr(empty->Dirs().front().c_str(), kOwnerXattr, mark, sizeof mark - 1), 0) << std::strerror(errno);
  EXPECT_EQ(std::string(mark), OwnerMark());
  EXPECT_EQ(CheckOwner(OwnerMark()), OwnerState::kAlive);
  auto unmark = [](const TaskCgroup& cg) {
    for (const auto& d : cg.Dirs()) ::removexattr(d.c_str(), kOwnerXattr);
  };
  auto mark_as = [](const TaskCgroup& cg, const std::string& m) {
    for (const auto& d : cg.Dirs()) ::setxattr(d.c_str(), kOwnerXattr, m.data(), m.size(), 0);
  };
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    _exit(0);
  }
  ASSERT_TRUE(busy->AttachPid(child));
  std::vector<std::string> empty_dirs = empty->Dirs(), busy_dirs = busy->Dirs();
  // A live owner's cgroups stay, even empty and with no age limit.
  EXPECT_THAT(SweepStaleTaskCgroups(L(), /*min_age_s=*/0), ::testing::Not(::testing::Contains(empty_name)));
  // Unmarked: the age-and-empty rule.
  unmark(*empty);
  unmark(*busy);
  auto removed = SweepStaleTaskCgroups(L(), /*min_age_s=*/0);
  EXPECT_THAT(removed, ::testing::Contains(empty_name));
  EXPECT_THAT(removed, ::testing::Not(::testing::Contains(busy_name)));
  for (const auto& d : empty_dirs) EXPECT_FALSE(std::filesystem::exists(d)) << d;
  for (const auto& d : busy_dirs) EXPECT_TRUE(std::filesystem::exists(d)) << d;
  // A fresh unmarked cgroup is left alone whatever it holds: a concurrent supervisor may be about to use it.
  auto fresh = TaskCgroup::Create(L(), empty_name + "-fresh", {});
  ASSERT_TRUE(fresh);
  unmark(*fresh);
  EXPECT_THAT(SweepStaleTaskCgroups(L(), 60), ::testing::Not(::testing::Contains(empty_name + "-fresh")));
  // A dead owner's: removed though fresh, and the process left inside is killed.
  pid_t gone = ::fork();
  if (gone == 0) _exit(0);
  std::ifstream stat_file("/proc/" + std::to_string(gone) + "/stat");  // a zombie until reaped
  std::string stat_line((std::istreambuf_iterator<char>(stat_file)), {});
  ::waitpid(gone, nullptr, 0);
  std::istringstream fields(stat_line.substr(stat_line.rfind(')') + 2));
  std::string field, start;
  for (int i = 3; i <= 22 && fields >> field; ++i) start = field;
  struct stat ns{};
  ASSERT_EQ(::stat("/proc/self/ns/pid", &ns), 0);
  const std::string dead_mark = std::to_string(gone) + " " + start + " " + std::to_string(ns.st_ino) + " sd:test";
  std::string instance;
  EXPECT_EQ(CheckOwner(dead_mark, &instance), OwnerState::kDead);
  EXPECT_EQ(instance, "sd:test");
  mark_as(*fresh, dead_mark);
  mark_as(*busy, dead_mark);
  // Fresh, and another cordond's: it gets its 60 s to restart and recover them itself.
  EXPECT_THAT(SweepStaleTaskCgroups(L(), 60, "sd:other"), ::testing::Not(::testing::Contains(busy_name)));
  // This cordond's own earlier run: whatever the age.
  removed = SweepStaleTaskCgroups(L(), 60, "sd:test");
  EXPECT_THAT(removed, ::testing::Contains(empty_name + "-fresh"));
  EXPECT_THAT(removed, ::testing::Contains(busy_name));
  for (const auto& d : busy_dirs) EXPECT_FALSE(std::filesystem::exists(d)) << d;
  int st = 0;
  pid_t w = 0;
  for (int i = 0; i < 500 && (w = ::waitpid(child, &st, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (w == 0) {  // never hang: end it ourselves, and fail
    ::kill(child, SIGKILL);
    ::waitpid(child, &st, 0);
    ADD_FAILURE() << "the sweep did not kill the process in the dead owner's cgroup";
  } else {
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  }
}

// The cgroup2 path this hybrid host offers: clone3(CLONE_INTO_CGROUP) into the unified task
// directory, then cgroup.kill there.
TEST_F(CgroupTest, CloneIntoCgroupAndCgroupKill) {
  if (L().v2_base_dir.empty()) GTEST_SKIP() << "no cgroup2 tree on this host";
  if (!L().v2_has_kill) GTEST_SKIP() << "cgroup.kill needs kernel >= 5.14";
  auto cg = TaskCgroup::Create(L(), Id("clone3"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  ASSERT_GE(cg->V2DirFd(), 0);

  clone_args args{};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(cg->V2DirFd());
  long pid = sys::Clone3(&args);
  if (pid == 0) {
    for (;;) ::pause();
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  // Born inside: no cgroup.procs write for v2, only the v1 hierarchies.
  ASSERT_TRUE(cg->AttachPid(static_cast<pid_t>(pid), V2Entry::kEnteredViaClone));
  std::string self = ReadAll("/proc/" + std::to_string(pid) + "/cgroup");
  const std::string rel = cg->V2Dir().substr(L().v2_mount.size());
  EXPECT_THAT(self, HasSubstr("0::" + rel + "\n"));
  EXPECT_THAT(ReadAll(cg->V2Dir() + "/cgroup.procs"), HasSubstr(std::to_string(pid)));

  ASSERT_TRUE(cg->Kill());
  int st = WaitStatus(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  EXPECT_THAT(ReadAll(cg->V2Dir() + "/cgroup.events"), HasSubstr("populated 0"));
  ASSERT_TRUE(cg->Remove());
}

TEST_F(CgroupTest, KillOfEmptyCgroupIsQuick) {
  auto cg = TaskCgroup::Create(L(), Id("empty"), {});
  ASSERT_TRUE(cg);
  EXPECT_TRUE(cg->Kill(std::chrono::milliseconds(100)));
}

}  // namespace
}  // namespace cordon::cgroup
