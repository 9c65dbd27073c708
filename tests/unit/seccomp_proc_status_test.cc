// /proc/<tid>/status as the seccomp kill path reads it: thread group, thread count, SIGSYS disposition.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "supervisor/seccomp/proc_status.h"

namespace cordon::seccomp {
namespace {

constexpr const char* kStatus =
    "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4250\nPPid:\t1\n"
    "Threads:\t3\nSigQ:\t0/63446\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
    "SigBlk:\t0000000040000000\nSigIgn:\t0000000001001000\nSigCgt:\t0000000180004002\n";

TEST(ProcStatusTest, ParsesTheFieldsTheKillPathUses) {
  auto s = ParseThreadStatus(kStatus);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->tgid, 4242);
  EXPECT_EQ(s->threads, 3);
  EXPECT_TRUE(s->Blocks(SIGSYS));     // bit 30 of SigBlk = signal 31
  EXPECT_FALSE(s->Catches(SIGSYS));
  EXPECT_TRUE(s->Catches(SIGINT));    // bit 1 = signal 2
  EXPECT_TRUE(s->Ignores(SIGPIPE));   // bit 12 = signal 13
  EXPECT_FALSE(s->DefaultActionRuns(SIGSYS));
  EXPECT_TRUE(s->Catches(SIGTERM));    // bit 14 = signal 15
  EXPECT_TRUE(s->DefaultActionRuns(SIGUSR1));
}

TEST(ProcStatusTest, MissingFieldsAreErrors) {
  EXPECT_FALSE(ParseThreadStatus("Name:\tx\nThreads:\t1\n"));
  EXPECT_FALSE(ParseThreadStatus("Tgid:\t12\nThreads:\tmany\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n"));
  EXPECT_FALSE(ParseThreadStatus(""));
}

TEST(ProcStatusTest, ReadsOurOwnThread) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  auto s = ReadThreadStatus(static_cast<pid_t>(gettid()));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->tgid, getpid());
  EXPECT_GE(s->threads, 1);
  EXPECT_TRUE(s->Blocks(SIGSYS));
}

}  // namespace
}  // namespace cordon::seccomp
