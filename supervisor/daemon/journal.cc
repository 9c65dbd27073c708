// supervisor/daemon/journal.cc: cordond's log lines to the journal or stderr (journal.h).
#include "supervisor/daemon/journal.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.h"

namespace cordon::daemon {
namespace {

constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to the service's stdout/stderr
// (systemd.exec(5)); it names stderr only when stderr is still that stream (not redirected by a
// shell or a test).
bool StderrIsJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

// The journal's socket, connected once; -1 when cordond logs to stderr.
int JournalFd() {
  static const int fd = [] {
    if (!StderrIsJournal()) return -1;
    UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return -1;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, kJournalSocket, sizeof(addr.sun_path) - 1);
    if (::connect(s.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
    return s.Release();  // kept for cordond's lifetime
  }();
  return fd;
}

// KEY=VALUE\n, or, for a value with a newline, the protocol's binary form:
// KEY\n, the length as 64-bit little endian, the value, \n.
void AppendField(std::string* out, std::string_view key, std::string_view value) {
  if (value.find('\n') == std::string_view::npos) {
    out->append(key).append("=").append(value).append("\n");
    return;
  }
  out->append(key).append("\n");
  uint64_t n = value.size();
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out->append(value).append("\n");
}

bool IsHex32(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The task a line names: "task <32 hex>" anywhere in it (every line of cordond's about one task
// says so), else empty.
std::string_view TaskIdIn(std::string_view msg) {
  for (size_t at = msg.find("task "); at != std::string_view::npos; at = msg.find("task ", at + 1)) {
    std::string_view id = msg.substr(at + 5, 32);
    if (IsHex32(id)) return id;
  }
  return {};
}

// Kinds of line, by what cordond's messages begin with or say (the first match wins).
std::string_view MessageIdFor(std::string_view msg, bool about_task) {
  if (msg.starts_with("listening on ")) return kMessageIdListening;
  if (msg.starts_with("SIGHUP")) return kMessageIdReload;
  if (msg.starts_with("stopping")) return kMessageIdStopping;
  if (about_task) return kMessageIdTaskProblem;
  return kMessageIdOther;
}

}  // namespace

std::string JournalDatagram(std::string_view msg, const LogFields& f) {
  std::string_view task = f.task_id.empty() ? TaskIdIn(msg) : f.task_id;
  int priority = f.priority;
  if (priority < 0) priority = msg.find("failed") != std::string_view::npos ? 3 : 6;
  std::string d;
  d.reserve(msg.size() + 256);
  AppendField(&d, "MESSAGE", msg);
  AppendField(&d, "PRIORITY", std::to_string(priority));
  AppendField(&d, "SYSLOG_IDENTIFIER", "cordond");
  AppendField(&d, "MESSAGE_ID", f.message_id.empty() ? MessageIdFor(msg, !task.empty()) : f.message_id);
  if (!task.empty()) AppendField(&d, "CORDON_TASK_ID", task);
  if (!f.principal.empty()) AppendField(&d, "CORDON_PRINCIPAL", f.principal);
  return d;
}

void LogLine(std::string_view msg, const LogFields& fields) {
  if (int fd = JournalFd(); fd >= 0) {
    std::string d = JournalDatagram(msg, fields);
    if (::send(fd, d.data(), d.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(d.size())) return;
    // Too large for a datagram, or journald is gone: the line still goes out, on stderr.
  }
  std::fprintf(stderr, "cordond: %.*s\n", static_cast<int>(msg.size()), msg.data());
}

void LogTaskAdmitted(const TaskRow& t) {
  LogLine("task " + t.id + " admitted: principal " + t.principal + ", policy " + t.policy + ", class " + t.cls + ", " +
              (t.argv.empty() ? std::string("?") : t.argv[0]),
          {.task_id = t.id, .principal = t.principal, .message_id = kMessageIdTaskAdmitted, .priority = 6});
}

void LogTaskFinished(const TaskRow& t) {
  const bool ok = t.failure_class.empty() || t.failure_class == "none";
  LogLine("task " + t.id + " finished: exit " + std::to_string(t.exit_code) + ", failure_class " +
              (t.failure_class.empty() ? "none" : t.failure_class) + (t.message.empty() ? "" : " (" + t.message + ")"),
          {.task_id = t.id, .principal = t.principal, .message_id = kMessageIdTaskFinished, .priority = ok ? 6 : 4});
}

}  // namespace cordon::daemon
