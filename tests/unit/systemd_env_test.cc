// supervisor/daemon/systemd.{h,cc}: the parts of the sd_listen_fds/sd_notify protocols that need
// no systemd: reading (and clearing) the environment, and NOTIFY_SOCKET addresses.
#include "supervisor/daemon/systemd.h"

#include <gtest/gtest.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

namespace cordon::daemon::systemd {
namespace {

void Set(const char* k, const char* v) { ::setenv(k, v, 1); }

TEST(SystemdEnv, ListenFdsForAnotherPidAreNotOursButAreCleared) {
  Set("LISTEN_PID", "1");
  Set("LISTEN_FDS", "1");
  Set("NOTIFY_SOCKET", "/run/systemd/notify");
  auto env = TakeEnvironment(::getpid() == 1 ? 2 : ::getpid());
  ASSERT_TRUE(env) << env.error().Message();
  EXPECT_EQ(env->listen_fds, 0);
  EXPECT_EQ(env->notify_socket, "/run/systemd/notify");
  for (const char* v : {"LISTEN_PID", "LISTEN_FDS", "NOTIFY_SOCKET"}) EXPECT_EQ(::getenv(v), nullptr) << v;
}

TEST(SystemdEnv, WatchdogOnlyForUs) {
  Set("WATCHDOG_USEC", "30000000");
  Set("WATCHDOG_PID", std::to_string(::getpid()).c_str());
  auto ours = TakeEnvironment(::getpid());
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->watchdog_usec, 30000000u);
  Set("WATCHDOG_USEC", "30000000");
  Set("WATCHDOG_PID", "1");
  auto theirs = TakeEnvironment(::getpid() == 1 ? 2 : ::getpid());
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->watchdog_usec, 0u);
  Set("WATCHDOG_USEC", "soon");
  auto bad = TakeEnvironment(::getpid());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().Message().find("WATCHDOG_USEC='soon'"), std::string::npos) << bad.error().Message();
}

TEST(SystemdEnv, ListenPidMissingIsAnError) {
  Set("LISTEN_FDS", "1");
  ::unsetenv("LISTEN_PID");
  auto r = TakeEnvironment(::getpid());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().Message().find("LISTEN_PID"), std::string::npos) << r.error().Message();
}

TEST(SystemdEnv, NotifyAddressPathAndAbstract) {
  auto path = NotifyAddress("/run/systemd/notify");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->size(), offsetof(sockaddr_un, sun_path) + sizeof("/run/systemd/notify"));  // with its NUL
  auto abs = NotifyAddress("@sd-notify");
  ASSERT_TRUE(abs);
  EXPECT_EQ(abs->size(), offsetof(sockaddr_un, sun_path) + 10);  // no NUL: abstract names are counted
  EXPECT_EQ((*abs)[offsetof(sockaddr_un, sun_path)], '\0');
  EXPECT_EQ(abs->substr(offsetof(sockaddr_un, sun_path) + 1), "sd-notify");
  auto rel = NotifyAddress("notify.sock");
  ASSERT_FALSE(rel);
  EXPECT_NE(rel.error().Message().find("neither an absolute path nor an @abstract name"), std::string::npos);
  EXPECT_FALSE(NotifyAddress("/" + std::string(200, 'x')));
}

}  // namespace
}  // namespace cordon::daemon::systemd
