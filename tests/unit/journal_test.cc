// supervisor/daemon/journal.{h,cc}: the entries cordond sends to journald over its native protocol.
// The path through a real journald is scripts/systemd-boot-test.sh (`journalctl -u cordond
// CORDON_TASK_ID=ID` in a booted container).
#include "supervisor/daemon/journal.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace cordon::daemon {
namespace {

// The datagram back into fields, as journald reads it (both the KEY=VALUE and the binary form).
std::map<std::string, std::string> Parse(const std::string& d) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < d.size()) {
    size_t nl = d.find('\n', at);
    EXPECT_NE(nl, std::string::npos) << "unterminated field at " << at;
    if (nl == std::string::npos) break;
    std::string line = d.substr(at, nl - at);
    if (size_t eq = line.find('='); eq != std::string::npos) {
      out[line.substr(0, eq)] = line.substr(eq + 1);
      at = nl + 1;
    } else {
      uint64_t n = 0;
      for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(d[nl + 1 + i])) << (8 * i);
      out[line] = d.substr(nl + 9, n);
      EXPECT_EQ(d[nl + 9 + n], '\n');
      at = nl + 10 + n;
    }
  }
  return out;
}

constexpr const char* kId = "0123456789abcdef0123456789abcdef";

TEST(Journal, TaskLinesCarryTheTaskIdPrincipalAndTheirMessageId) {
  TaskRow t;
  t.id = kId;
  t.principal = "agent-1";
  t.policy = "analyst";
  t.cls = "batch";
  t.argv = {"/bin/echo", "hi"};
  t.failure_class = "none";
  auto f = Parse(JournalDatagram("task " + t.id + " finished: exit 0", {.task_id = t.id, .principal = t.principal,
                                                                          .message_id = kMessageIdTaskFinished}));
  EXPECT_EQ(f["MESSAGE"], std::string("task ") + kId + " finished: exit 0");
  EXPECT_EQ(f["CORDON_TASK_ID"], kId);
  EXPECT_EQ(f["CORDON_PRINCIPAL"], "agent-1");
  EXPECT_EQ(f["MESSAGE_ID"], kMessageIdTaskFinished);
  EXPECT_EQ(f["PRIORITY"], "6");
  EXPECT_EQ(f["SYSLOG_IDENTIFIER"], "cordond");
}

TEST(Journal, ALineNamingATaskGetsItsIdAndFailuresAreErrors) {
  auto f = Parse(JournalDatagram(std::string("recording the end of task ") + kId + " failed: disk full", {}));
  EXPECT_EQ(f["CORDON_TASK_ID"], kId);
  EXPECT_EQ(f["MESSAGE_ID"], kMessageIdTaskProblem);
  EXPECT_EQ(f["PRIORITY"], "3");
  EXPECT_EQ(f.count("CORDON_PRINCIPAL"), 0u);
  // "task" followed by something that is not an id names no task.
  auto g = Parse(JournalDatagram("task cgroups swept: 3", {}));
  EXPECT_EQ(g.count("CORDON_TASK_ID"), 0u);
  EXPECT_EQ(g["MESSAGE_ID"], kMessageIdOther);
}

TEST(Journal, DaemonEventsHaveTheirKinds) {
  EXPECT_EQ(Parse(JournalDatagram("listening on /run/cordon/cordond.sock", {}))["MESSAGE_ID"], kMessageIdListening);
  EXPECT_EQ(Parse(JournalDatagram("SIGHUP: reloaded", {}))["MESSAGE_ID"], kMessageIdReload);
  EXPECT_EQ(Parse(JournalDatagram("stopping: no new tasks", {}))["MESSAGE_ID"], kMessageIdStopping);
}

TEST(Journal, AMultiLineMessageUsesTheBinaryFormAndKeepsEveryByte) {
  const std::string msg = "evidence of task x: line one\nline two=still the message\n";
  std::string d = JournalDatagram(msg, {});
  EXPECT_EQ(d.rfind("MESSAGE\n", 0), 0u) << "the binary form starts with the bare key";
  EXPECT_EQ(Parse(d)["MESSAGE"], msg);
}

}  // namespace
}  // namespace cordon::daemon
