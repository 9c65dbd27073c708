// supervisor/task/output_pump.h: a running task's stdout and stderr, forwarded through the
// supervisor when they go through pipes of the task's own (limits.output_bytes, or a caller's
// pipe or file the task could not reopen; launcher.cc decides). It counts the bytes against the
// budget, never blocks the supervisor's loop on a caller that stops reading, and drains the tail
// when the task is gone. Supervisor side, driven by the task's loop; owns the pipes' read ends,
// borrows the caller's fds (duplicating one only to finish a drain after the task is gone).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace cordon {

class OutputPump {
 public:
  // `budget`: limits.output_bytes (0: none). `drain_ms`: once the task is gone, how long a caller
  // that stops reading is waited for before the rest is dropped; 0 = as long as it takes (the
  // CLI's own stdout).
  void Configure(uint64_t budget, uint32_t drain_ms);
  // Stream `which` (0 stdout, 1 stderr) comes from the task's pipe `read_end` (made non-blocking
  // here) and goes to the caller's `dest`, whose fstat is `dest_st`.
  void Attach(int which, UniqueFd read_end, int dest, const struct stat& dest_st);

  // The task's pipes to watch for POLLIN, and the caller's fds that wait for POLLOUT.
  void AddReadWatches(std::vector<int>* fds) const;
  void AddWriteWatches(std::vector<int>* fds) const;
  // `fd` fired (a read end, or a destination with room). Returns true when the output crossed
  // the budget in this call: both pipes are closed then, and the caller stops the task.
  [[nodiscard]] bool OnReady(int fd);
  // The earliest retry of a caller that had no room (0: none), and the retries that are due.
  uint64_t NextDeadlineNs() const;
  [[nodiscard]] bool OnDeadline(uint64_t now_ns);
  // The task is gone: forward what is left in the pipes (see Configure for how long).
  [[nodiscard]] bool Drain();

  // Nothing is left for a caller's fd.
  bool idle() const { return streams_[0].pending.empty() && streams_[1].pending.empty(); }
  // Bytes forwarded (and counted against the budget).
  uint64_t total() const { return total_; }

 private:
  struct Stream {
    UniqueFd read_end;
    int dest = -1;
    bool dest_is_file = false;  // a regular file never waits for a reader: plain write()
    bool splice_ok = false;     // dest is a pipe or file: splice() moves pages without copying
    bool wait_dest = false;     // the task's pipe has data, the caller's fd has no room
    std::string pending;        // read from the task, not yet taken by the caller's fd
    uint64_t retry_ns = 0;      // when to try the caller's fd again (0 = not waiting)
    uint64_t give_up_ns = 0;    // draining with drain_ms: pending is dropped after this
    UniqueFd owned_dest;        // draining after the task: our duplicate of dest, kept until done
  };
  bool Pump(int which, bool drain);

  Stream streams_[2];
  uint64_t budget_ = 0;
  uint64_t patience_ns_ = 0;
  uint64_t total_ = 0;
};

}  // namespace cordon
