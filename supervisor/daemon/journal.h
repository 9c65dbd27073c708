// supervisor/daemon/journal.h: where cordond's log lines go (docs/deploy.md "Logs and the journal").
// Under systemd, with stderr connected to the journal, each line is sent to journald as one entry
// with structured fields: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=cordond, MESSAGE_ID (one per kind
// of event, the table in journal.cc), CORDON_TASK_ID and CORDON_PRINCIPAL when the line is about
// a task, so that `journalctl -u cordond CORDON_TASK_ID=ID` shows one task's lines. Elsewhere the
// line goes to stderr as "cordond: MESSAGE", as before.
//
// The journal's native protocol (a datagram of KEY=VALUE lines to /run/systemd/journal/socket,
// systemd's "Native Journal Protocol") is written here from its documentation: cordond is a static
// PIE and Debian 12 ships no libsystemd.a for sd_journal_send(3). Thread-safe (one datagram per
// line); no allocation beyond the line itself.
#pragma once

#include <string>
#include <string_view>

#include "supervisor/daemon/store.h"

namespace cordon::daemon {

// What a line is about, beyond its text. Empty fields are not sent.
struct LogFields {
  std::string_view task_id;
  std::string_view principal;
  std::string_view message_id;  // 32 hex digits; empty: chosen from the text (journal.cc)
  int priority = -1;            // syslog priority 0..7; -1: 3 (err) when the text says "failed", else 6 (info)
};

// One log line: to the journal when stderr is the journal (JOURNAL_STREAM matches stderr's
// device and inode), else, or when the journal refuses the entry, to stderr.
void LogLine(std::string_view msg, const LogFields& fields = {});

// Kinds of event with a MESSAGE_ID of their own (journalctl MESSAGE_ID=...), documented in
// docs/deploy.md. The others ("cordond" lines that match no kind) get kMessageIdOther.
inline constexpr std::string_view kMessageIdTaskAdmitted = "fe05fc1a2adc47c5b476eda3cd77a927";
inline constexpr std::string_view kMessageIdTaskFinished = "67a1b3314a5c4a37885a4c57250cedf3";
inline constexpr std::string_view kMessageIdTaskProblem = "36e323560c704aa48893273cc7a5f7c3";
inline constexpr std::string_view kMessageIdListening = "865730f5b3d342b6bee7f647dca4d72c";
inline constexpr std::string_view kMessageIdReload = "b9192f13e9ee41bc8a96bb8b3cb7c2f1";
inline constexpr std::string_view kMessageIdStopping = "9c54e6bbe08944b383cbc473d62da35a";
inline constexpr std::string_view kMessageIdOther = "0fe868572de0434aad7841b2b61184af";

// The per-task lines: "task ID admitted: principal P, policy X, class C, ARGV0" and "task ID
// finished: exit N, failure_class F (MESSAGE)", with the task's fields and their own MESSAGE_ID;
// a finished task whose failure_class is not "none" is a warning (PRIORITY 4).
void LogTaskAdmitted(const TaskRow& t);
void LogTaskFinished(const TaskRow& t);

// The entry LogLine sends, as the datagram's bytes (exposed for tests/unit/journal_test.cc).
std::string JournalDatagram(std::string_view msg, const LogFields& fields);

}  // namespace cordon::daemon
