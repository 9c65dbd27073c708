// tests/vm/v2_host_test.cc: what a pure cgroup v2 host (cgroup_no_v1=all, one cgroup2 mount) must
// give Cordon's cgroup code, checked against the real kernel in the VM of scripts/v2vm/run.sh,
// rootful and rootless (a subtree delegated to the user as systemd's user@.service gets it). Not in
// ctest: on any other host it fails at once, saying to run it through scripts/v2vm/run.sh.
// Every test builds its cgroups with Cordon's code (DetectLayout, PrepareBase, TaskCgroup) under its
// own subtree (v2vm-test-<pid>.slice) and checks them from the kernel's files.
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

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/syscalls.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "tests/support/cgroup_child.h"
#include "tests/support/run.h"

namespace cordon::cgroup {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using test::ReadAll;
using test::TouchMiB;
using test::WaitStatus;
using test::Trim;

bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds within) {
  auto until = std::chrono::steady_clock::now() + within;
  while (!ok()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

Layout* g_layout = nullptr;
std::string g_subtree;

class V2Env : public ::testing::Environment {
 public:
  void SetUp() override {
    g_subtree = "v2vm-test-" + std::to_string(::getpid()) + ".slice";
    BaseOptions o;
    o.subtree = g_subtree;
    auto l = DetectLayout(o);
    ASSERT_TRUE(l) << l.error().Message();
    ASSERT_EQ(l->mode, Mode::kV2) << "not a pure cgroup v2 host: run this test through scripts/v2vm/run.sh";
    ASSERT_TRUE(l->no_cgroup_reason.empty()) << l->no_cgroup_reason;
    auto p = PrepareBase(*l);
    ASSERT_TRUE(p) << p.error().Message();
    g_layout = new Layout(std::move(*l));
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  void TearDown() override {
    if (g_layout != nullptr) ::rmdir(g_layout->v2_base_dir.c_str());
    delete g_layout;
    g_layout = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new V2Env);

class V2Host : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(g_layout, nullptr) << "the layout could not be prepared (see above)"; }
  void TearDown() override {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  const Layout& L() { return *g_layout; }
  static std::string Id(const std::string& name) { return "task-" + name + "-" + std::to_string(::getpid()); }

  // clone3(CLONE_INTO_CGROUP) into the task's v2 directory, as the outer shim starts a sandbox's
  // PID 1: the child runs body() and exits with its value.
  static pid_t CloneInto(const TaskCgroup& cg, const std::function<int()>& body) {
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cg.V2DirFd());
    long pid = sys::Clone3(&args);
    if (pid == 0) ::_exit(body());
    return static_cast<pid_t>(pid);
  }
};

TEST_F(V2Host, LayoutIsPureV2WithTheBaseWhereThisUserMayWrite) {
  EXPECT_TRUE(L().v1.empty());
  for (Controller c : {Controller::kMemory, Controller::kPids, Controller::kCpuacct, Controller::kFreezer}) {
    EXPECT_EQ(L().Of(c).where, Where::kV2) << ControllerName(c);
  }
  ASSERT_TRUE(L().v2_self_dir);
  if (::geteuid() == 0) {
    // Rootful without systemd delegation: Cordon's own subtree at the top of the hierarchy.
    EXPECT_EQ(L().v2_base_dir, L().v2_mount + "/" + g_subtree);
    EXPECT_FALSE(L().delegated);
    EXPECT_TRUE(L().V2TaskHas("io")) << "io is on the root of a pure v2 host";
  } else {
    // Rootless: next to our own cgroup, inside the subtree delegated to this user.
    EXPECT_EQ(L().v2_base_dir, fs::Parent(*L().v2_self_dir) + "/" + g_subtree);
    EXPECT_TRUE(L().delegated);
  }
  EXPECT_TRUE(L().V2TaskHas("memory"));
  EXPECT_TRUE(L().V2TaskHas("pids"));
  EXPECT_TRUE(L().v2_has_kill);
  std::printf("[ info ] base %s, task controllers:", L().v2_base_dir.c_str());
  for (const auto& c : L().v2_task_controllers) std::printf(" %s", c.c_str());
  std::printf("\n");
}

TEST_F(V2Host, LimitsLandInTheV2Files) {
  Limits lim;
  lim.memory_bytes = 48u << 20;
  lim.pids = 8;
  auto cg = TaskCgroup::Create(L(), Id("limits"), lim);
  ASSERT_TRUE(cg) << cg.error().Message();
  const std::string d = cg->V2Dir();
  EXPECT_EQ(Trim(ReadAll(d + "/memory.max")), std::to_string(48u << 20));
  EXPECT_EQ(Trim(ReadAll(d + "/memory.swap.max")), "0");
  EXPECT_EQ(Trim(ReadAll(d + "/memory.oom.group")), "1");
  EXPECT_EQ(Trim(ReadAll(d + "/pids.max")), "8");
  EXPECT_TRUE(cg->Remove());
  struct stat st;
  EXPECT_NE(::stat(d.c_str(), &st), 0);
}

TEST_F(V2Host, CloneIntoCgroupBirthsTheChildInside) {
  auto cg = TaskCgroup::Create(L(), Id("clone"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const pid_t pid = CloneInto(*cg, [&] {
    // The first thing the child does: where was it born?
    std::string self = ReadAll("/proc/self/cgroup");
    return ::write(p[1], self.data(), self.size()) == static_cast<ssize_t>(self.size()) ? 0 : 3;
  });
  ASSERT_GT(pid, 0) << std::strerror(errno);
  ::close(p[1]);
  char buf[512];
  ssize_t n = ::read(p[0], buf, sizeof buf);
  ::close(p[0]);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "0::" + cg->V2Dir().substr(L().v2_mount.size()) + "\n");
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST_F(V2Host, UsageComesFromTheV2FilesIncludingPeakAndPressure) {
  auto cg = TaskCgroup::Create(L(), Id("usage"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  const pid_t pid = CloneInto(*cg, [] {
    // 24 MiB touched, three short-lived children, some CPU.
    if (TouchMiB(24) != 0) return 2;
    for (int i = 0; i < 3; ++i) {
      pid_t c = ::fork();
      if (c == 0) ::_exit(0);
      ::waitpid(c, nullptr, 0);
    }
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < 20000000; ++i) x = x + i;
    return 0;
  });
  ASSERT_GT(pid, 0);
  ASSERT_EQ(WaitStatus(pid), 0);
  auto u = cg->ReadUsage();
  ASSERT_TRUE(u) << u.error().Message();
  const std::string d = cg->V2Dir();
  EXPECT_EQ(u->memory_peak_bytes.source, d + "/memory.peak") << u->memory_peak_bytes.unavailable;
  EXPECT_GE(u->memory_peak_bytes.value.value_or(0), 24u << 20);
  EXPECT_EQ(u->memory_current_bytes.source, d + "/memory.current");
  EXPECT_EQ(u->cpu_user_usec.source, d + "/cpu.stat");
  EXPECT_GT(u->cpu_user_usec.value.value_or(0) + u->cpu_system_usec.value.value_or(0), 0u);
  // pids.peak is 6.1's: the four processes, or at least the largest pids.current seen.
  EXPECT_EQ(u->pids_peak.source, d + "/pids.peak") << u->pids_peak.unavailable;
  EXPECT_GE(u->pids_peak.value.value_or(0), 2u);
  for (const PressureFigure* f : {&u->cpu_pressure, &u->memory_pressure, &u->io_pressure}) {
    EXPECT_TRUE(f->value.has_value()) << f->unavailable;
    EXPECT_THAT(f->source, EndsWith(".pressure"));
  }
  EXPECT_EQ(u->oom_kills.source, d + "/memory.events");
  EXPECT_EQ(u->oom_kills.value.value_or(99), 0u);
  if (L().V2TaskHas("io")) {
    EXPECT_EQ(u->io_read_bytes.source, d + "/io.stat") << u->io_read_bytes.unavailable;
  }
}

TEST_F(V2Host, OomKillTakesTheWholeTaskAndIsCounted) {
  Limits lim;
  lim.memory_bytes = 32u << 20;
  auto cg = TaskCgroup::Create(L(), Id("oom"), lim);
  ASSERT_TRUE(cg) << cg.error().Message();
  const pid_t pid = CloneInto(*cg, [] {
    // A bystander that touches nothing: memory.oom.group=1 takes it with the hog.
    pid_t c = ::fork();
    if (c == 0) {
      for (;;) ::pause();
    }
    TouchMiB(128);
    return 0;
  });
  ASSERT_GT(pid, 0);
  int st = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  EXPECT_TRUE(WaitFor([&] { return ReadAll(cg->V2Dir() + "/cgroup.events").find("populated 0") != std::string::npos; },
                      std::chrono::seconds(10)))
      << "the bystander outlived the OOM kill: " << ReadAll(cg->V2Dir() + "/cgroup.procs");
  auto u = cg->ReadUsage(TaskCgroup::Psi::kSkip);
  ASSERT_TRUE(u) << u.error().Message();
  EXPECT_GE(u->oom_kills.value.value_or(0), 1u);
  EXPECT_LE(u->memory_peak_bytes.value.value_or(~0ull), 32u << 20);
}

TEST_F(V2Host, PidsMaxRefusesForksAndCountsThem) {
  Limits lim;
  lim.pids = 4;
  auto cg = TaskCgroup::Create(L(), Id("pids"), lim);
  ASSERT_TRUE(cg) << cg.error().Message();
  const pid_t pid = CloneInto(*cg, [] {
    int refused = 0;
    for (int i = 0; i < 8; ++i) {
      pid_t c = ::fork();
      if (c == 0) {
        ::sleep(30);
        ::_exit(0);
      }
      if (c < 0 && errno == EAGAIN) ++refused;
    }
    return refused;  // 8 asked, 3 fit beside us
  });
  ASSERT_GT(pid, 0);
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 5);
  auto u = cg->ReadUsage(TaskCgroup::Psi::kSkip);
  ASSERT_TRUE(u) << u.error().Message();
  EXPECT_EQ(u->pids_limit_hits.value.value_or(0), 5u);
  EXPECT_EQ(u->pids_peak.value.value_or(0), 4u);
  ASSERT_TRUE(cg->Kill());
}

TEST_F(V2Host, CgroupKillEndsAFrozenTreeOfSessions) {
  auto cg = TaskCgroup::Create(L(), Id("freeze"), {});
  ASSERT_TRUE(cg) << cg.error().Message();
  const pid_t pid = CloneInto(*cg, [] {
    // Children in their own sessions and a grandchild re-parented away: only the cgroup holds them.
    for (int i = 0; i < 3; ++i) {
      if (::fork() == 0) {
        ::setsid();
        if (::fork() == 0) {
          for (;;) ::pause();
        }
        ::_exit(0);
      }
    }
    for (;;) ::pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  const std::string d = cg->V2Dir();
  auto procs = [&] {
    std::string t = ReadAll(d + "/cgroup.procs");
    return std::count(t.begin(), t.end(), '\n');
  };
  ASSERT_TRUE(WaitFor([&] { return procs() == 4; }, std::chrono::seconds(10))) << procs();
  // cgroup.freeze, as `cordon freeze` uses it: the kernel reports the whole tree frozen.
  ASSERT_TRUE(fs::WriteFileAt(AT_FDCWD, (d + "/cgroup.freeze").c_str(), "1"));
  EXPECT_TRUE(WaitFor([&] { return ReadAll(d + "/cgroup.events").find("frozen 1") != std::string::npos; },
                      std::chrono::seconds(10)))
      << ReadAll(d + "/cgroup.events");
  // A frozen task must still die by cgroup.kill (a kill while frozen is the operator's `cordon kill`).
  auto k = cg->Kill(std::chrono::seconds(10));
  ASSERT_TRUE(k) << k.error().Message();
  EXPECT_THAT(ReadAll(d + "/cgroup.events"), HasSubstr("populated 0"));
  int st = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  EXPECT_TRUE(cg->Remove());
}

// systemd's plain Delegate=yes: the supervisor runs in the delegated cgroup itself, which therefore
// holds a process and may not enable controllers for children ("no internal processes").
// PrepareBase moves the supervisor into <delegated>/supervisor first; with another process left in
// the delegated cgroup it fails and says to use DelegateSubgroup=.
TEST_F(V2Host, DelegatedCgroupHoldingUsIsSplitIntoALeaf) {
  for (bool bystander : {false, true}) {
    SCOPED_TRACE(bystander ? "with a bystander" : "alone");
    const std::string deleg = fs::Parent(L().v2_base_dir) + "/v2vm-deleg-" + std::to_string(::getpid()) +
                              (bystander ? "-b" : "-a");
    ASSERT_EQ(::mkdir(deleg.c_str(), 0755), 0) << std::strerror(errno);
    // systemd's mark for a delegated cgroup (user.delegate is the one a user may set).
    ASSERT_EQ(::setxattr(deleg.c_str(), "user.delegate", "1", 1, 0), 0) << std::strerror(errno);
    pid_t other = -1;
    if (bystander) {
      other = ::fork();
      if (other == 0) {
        for (;;) ::pause();
      }
      ASSERT_TRUE(fs::WriteFileAt(AT_FDCWD, (deleg + "/cgroup.procs").c_str(), std::to_string(other)));
    }
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      std::string report;
      if (!fs::WriteFileAt(AT_FDCWD, (deleg + "/cgroup.procs").c_str(), "0")) {
        report = "could not enter " + deleg;
      } else {
        BaseOptions o;
        o.subtree = "cordon.slice";
        auto l = DetectLayout(o);
        if (!l) {
          report = "detect: " + l.error().Message();
        } else {
          auto r = PrepareBase(*l);
          report = (r ? std::string("ok ") : "error " + r.error().Message() + " (" + r.error().hint + ") ") + l->v2_base_dir + " " +
                   Trim(ReadAll("/proc/self/cgroup"));
        }
      }
      (void)!::write(p[1], report.data(), report.size());
      ::_exit(0);
    }
    ::close(p[1]);
    std::string report;
    char buf[1024];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    WaitStatus(child);
    const std::string rel = deleg.substr(L().v2_mount.size());
    if (!bystander) {
      EXPECT_EQ(report, "ok " + deleg + "/cordon.slice 0::" + rel + "/supervisor");
      EXPECT_THAT(ReadAll(deleg + "/cgroup.subtree_control"), HasSubstr("memory"));
      EXPECT_THAT(ReadAll(deleg + "/cordon.slice/cgroup.subtree_control"), HasSubstr("pids"));
    } else {
      EXPECT_THAT(report, HasSubstr("error "));
      EXPECT_THAT(report, HasSubstr("DelegateSubgroup=supervisor"));
      ::kill(other, SIGKILL);
      WaitStatus(other);
    }
    ::rmdir((deleg + "/cordon.slice").c_str());
    ::rmdir((deleg + "/supervisor").c_str());
    EXPECT_EQ(::rmdir(deleg.c_str()), 0) << deleg << ": " << std::strerror(errno);
  }
}

}  // namespace
}  // namespace cordon::cgroup
