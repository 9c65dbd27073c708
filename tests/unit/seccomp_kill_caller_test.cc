// The seccomp kill path against a real user-notification listener (issue 13, item 6): a kill is
// aimed only while the notification is valid, so a pid that now names another process (the caller
// died, its pid was recycled) is never signalled.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/scm_rights.h"
#include "common/unique_fd.h"
#include "supervisor/seccomp/thread_control.h"

namespace cordon::seccomp {
namespace {

// A child that installs a filter notifying getppid, hands us the listener, then calls getppid.
struct NotifyingChild {
  pid_t pid = -1;
  UniqueFd listener;
  seccomp_notif req{};
};

NotifyingChild StartNotifyingChild(bool catch_sigsys) {
  NotifyingChild c;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return c;
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  c.pid = ::fork();
  if (c.pid == 0) {
    if (catch_sigsys) {
      struct sigaction sa {};
      sa.sa_handler = [](int) {};
      ::sigaction(SIGSYS, &sa, nullptr);
    }
    sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(10);
    int fd = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (fd < 0) _exit(11);
    char b = 'L';
    if (!SendMsg(child_end.Get(), &b, 1, &fd, 1)) _exit(12);
    ::syscall(__NR_getppid);  // blocks until answered or killed
    _exit(0);
  }
  child_end.Reset();
  char b;
  auto got = RecvMsg(parent_end.Get(), &b, 1, 1);
  if (!got || got->fds.size() != 1) return c;
  c.listener = std::move(got->fds[0]);
  if (::ioctl(c.listener.Get(), SECCOMP_IOCTL_NOTIF_RECV, &c.req) != 0) c.listener.Reset();
  return c;
}

TEST(KillCallerTest, KillsTheCallerBySigsys) {
  NotifyingChild c = StartNotifyingChild(false);
  ASSERT_TRUE(c.listener) << "no notification from the child";
  EXPECT_EQ(static_cast<pid_t>(c.req.pid), c.pid);
  CallerKill k = KillCaller(c.listener.Get(), c.req.id, static_cast<pid_t>(c.req.pid));
  EXPECT_EQ(k.outcome, CallerKill::Outcome::kSignalled) << k.error;
  EXPECT_EQ(k.signal, SIGSYS);
  int st = 0;
  ASSERT_EQ(::waitpid(c.pid, &st, 0), c.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) << st;
}

TEST(KillCallerTest, UsesSigkillWhenSigsysIsCaught) {
  NotifyingChild c = StartNotifyingChild(true);
  ASSERT_TRUE(c.listener);
  CallerKill k = KillCaller(c.listener.Get(), c.req.id, static_cast<pid_t>(c.req.pid));
  EXPECT_EQ(k.signal, SIGKILL);
  int st = 0;
  ASSERT_EQ(::waitpid(c.pid, &st, 0), c.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
}

// The caller dies after the notification was received; its pid now "names" another process (we
// aim the kill at a live bystander's pid, as a recycled pid would). Nothing may be signalled.
TEST(KillCallerTest, AStaleNotificationSignalsNobody) {
  NotifyingChild c = StartNotifyingChild(false);
  ASSERT_TRUE(c.listener);
  ::kill(c.pid, SIGKILL);
  ::waitpid(c.pid, nullptr, 0);
  pid_t bystander = ::fork();
  if (bystander == 0) {
    ::pause();
    _exit(0);
  }
  CallerKill k = KillCaller(c.listener.Get(), c.req.id, bystander);
  EXPECT_EQ(k.outcome, CallerKill::Outcome::kGone);
  // No sleep to give a stray signal time to land: a marker signal of our own, sent now, is what
  // ends the bystander unless a signal sent before it does. A real-time signal is delivered after
  // any pending standard one, and a SIGKILL already sent makes the marker moot.
  ASSERT_EQ(::kill(bystander, SIGRTMAX), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(bystander, &st, 0), bystander);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGRTMAX)
      << "the bystander was signalled: " << (WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "it exited");
}

}  // namespace
}  // namespace cordon::seccomp
