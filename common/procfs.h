// common/procfs.h: what the supervisor reads from /proc to know a process again: cordond finds a
// shim after a restart, a task cgroup checks the process that created it.
// A pid alone can be reused; (pid, start time) names one process for the life of the boot.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace cordon {

// Field 22 (starttime, clock ticks since boot) of a /proc/PID/stat line. The comm field may hold
// spaces and parentheses, so fields are counted after the last ')'. Pure.
std::optional<uint64_t> ParseStatStartTime(std::string_view stat_line);

// The "Pid:" line of /proc/self/fdinfo/FD for a pidfd. Pure.
std::optional<pid_t> ParsePidfdFdinfoPid(std::string_view fdinfo_text);

// Reads /proc/PID/stat of a live process.
Result<uint64_t> ReadStartTime(pid_t pid);
// The pid a pidfd refers to.
Result<pid_t> PidOfPidfd(int pidfd);

}  // namespace cordon
