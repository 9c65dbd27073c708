// supervisor/daemon/spool.h: finished tasks' records that the state database could not take (a
// full state disk), kept in a small file beside it until they can be written (docs/daemon.md,
// "State disk full"). The file's space is reserved with fallocate(2) when cordond starts, so that
// writing the spool needs no new blocks on the very disk that is full.
// Single-threaded: the event loop owns it. No logging.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/daemon/store.h"

namespace cordon::daemon {

// A finished task's row (state "finished") and its evidence, not yet in the database.
struct PendingRecord {
  TaskRow row;
  std::string evidence;
};

// Serialises records (a magic line, a count, length-prefixed fields, a SHA-256 of all of it), and
// parses that back. Pure. Parse fails on a torn or foreign file rather than guessing.
std::string EncodeSpool(const std::vector<const PendingRecord*>& records);
Result<std::vector<PendingRecord>> DecodeSpool(const std::string& bytes);

class RecordSpool {
 public:
  // Opens (creating, mode 0600) `path` and reserves `capacity` bytes for it. When the reservation
  // fails (ENOSPC, EOPNOTSUPP), the spool still works but its writes may fail on a full disk:
  // reserved() says which.
  static Result<RecordSpool> Open(const std::string& path, uint64_t capacity);
  // The records a previous cordond left (empty when none). A damaged spool is an error.
  Result<std::vector<PendingRecord>> Load();
  // Replaces the spool's content with `records` (empty: nothing pending) and fdatasyncs it. The
  // records that do not fit in the capacity are left out: `written` says how many did.
  Result<void> Save(const std::vector<const PendingRecord*>& records, size_t* written);
  bool reserved() const { return reserved_; }
  const std::string& path() const { return path_; }

 private:
  RecordSpool() = default;
  std::string path_;
  UniqueFd fd_;
  uint64_t capacity_ = 0;
  bool reserved_ = false;
};

}  // namespace cordon::daemon
