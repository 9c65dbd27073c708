// cordond under faults (issue 14): a full or damaged state disk, evidence that cannot be written,
// replies that must keep their envelope, and the leftovers of killed supervisors (uid leases,
// cgroups). Each test drives a real cordond (tests/support/daemon_process.h) or the real `cordon`.
// Runs rootful (as root) and rootless (as any other user, e.g. runuser -u cordon-test).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "supervisor/daemon/client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Item 11: a List with nothing to list still sets its result (docs/api.md: exactly one of result
// and error is set), so a client can tell "no tasks" from "no answer".
TEST(DaemonFault, EmptyListKeepsTheEnvelope) {
  DaemonProcess d(PrincipalsFor(::geteuid()));
  api::Request req;
  req.mutable_list()->set_all(true);
  auto resp = d.Call(req);
  ASSERT_TRUE(resp) << resp.error().Message();
  EXPECT_FALSE(resp->has_error());
  EXPECT_EQ(resp->result_case(), api::Response::kList);
  EXPECT_EQ(resp->list().tasks_size(), 0);
  auto ps = d.Cli({"ps", "--all", "--json"});
  EXPECT_EQ(ps.exit_code, 0) << ps.err << d.Log();
  EXPECT_EQ(Trim(ps.out), "[]");
}

// Item 3: a damaged database stops cordond with an error that says so, and what to do (restore, or
// move it aside and start fresh, and what is then lost), not "check that the state dir is writable".
TEST(DaemonFault, DamagedDatabaseSaysWhatToDo) {
  DaemonProcess d(PrincipalsFor(::geteuid()));
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  const std::string db = d.dir() + "/state/state.db";
  for (const char* f : {"-wal", "-shm"}) ::unlink((db + f).c_str());
  std::ofstream(db, std::ios::trunc) << std::string(8192, 'x');  // not a database any more
  RunOptions opts;
  opts.timeout_ms = 20000;
  auto r = RunProgram({BuildPath("bin/cordond"), "--socket", d.socket(), "--state-dir", d.dir() + "/state",
                       "--config-dir", d.conf()},
                      opts);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("file is not a database"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is damaged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("move " + db), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("from a backup"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("is writable"), std::string::npos) << r.err;
}

// Item 2: `cordon run --evidence PATH` whose record cannot be written (/dev/full: every write is
// ENOSPC) exits 123, and says on stderr how the task itself ended.
TEST(DaemonFault, RunExits123WhenItsEvidenceIsNotWritten) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", "echo ran; exit 3"}, {"--evidence", "/dev/full"});
  EXPECT_EQ(r.exit_code, 123) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_NE(r.err.find("writing the evidence record to /dev/full failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the task exited 3"), std::string::npos) << r.err;
  // A task that succeeded is no exception: no evidence, no 0.
  EXPECT_EQ(CordonRun({"/bin/true"}, {"--evidence", "/dev/full"}).exit_code, 123);
  // And with the record written, the task's own code as before.
  std::string file = WriteTempFile("ev.jsonl", "");
  auto ok = CordonRun({"/bin/sh", "-c", "exit 3"}, {"--evidence", file});
  EXPECT_EQ(ok.exit_code, 3) << ok.err;
  std::ifstream f(file);
  std::string line;
  ASSERT_TRUE(std::getline(f, line));
  EXPECT_EQ(JsonField(line, "exit/code"), "3");
}

}  // namespace
}  // namespace cordon::test
