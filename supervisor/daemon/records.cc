// supervisor/daemon/records.cc: finished tasks' records that the state database could not take
// (docs/daemon.md, "State disk full"). A record is never dropped and never replaced by a guess:
// it stays in memory and in the reserved spool beside the database, status reports it as
// "finished, record pending", Submit is refused with the reason, and a timer retries the write.
#include "supervisor/daemon/daemon_internal.h"

#include <algorithm>

namespace cordon::daemon::internal {

Result<void> Daemon::LoadSpool() {
  auto spool = RecordSpool::Open(opts_.state_dir + "/records.spool", kSpoolBytes);
  if (!spool) return Wrap(spool.error(), "open the record spool");
  spool_.emplace(std::move(*spool));
  if (!spool_->reserved())
    Log("could not reserve " + std::to_string(kSpoolBytes) + " bytes for " + spool_->path() +
        ": on a full disk, pending records are kept in memory only");
  CORDON_ASSIGN_OR_RETURN(std::vector<PendingRecord> left, spool_->Load());
  for (auto& p : left) {
    p.row.record_pending = true;
    Log("task " + p.row.id + ": its record was pending when the previous cordond stopped; writing it now");
    std::string id = p.row.id;
    pending_.emplace(std::move(id), std::move(p));
  }
  if (!pending_.empty()) FlushPending();
  return {};
}

void Daemon::KeepPending(TaskRow row, std::string evidence, const Error& why) {
  metrics_.StoreError();
  row.record_pending = true;
  const bool first = pending_.empty();
  pending_reason_ = why.Message();
  Log("recording the end of task " + row.id + " failed: " + pending_reason_ +
      "; its record is kept pending and written once the state database takes it" +
      (first ? "; no new task is admitted until then" : ""));
  std::string id = row.id;
  pending_[id] = PendingRecord{std::move(row), std::move(evidence)};
  SaveSpool();
  pending_retry_ns_ = sys::MonotonicNs() + kPendingRetryNs;
}

void Daemon::FlushPending() {
  std::vector<std::string> ids;
  for (const auto& [id, p] : pending_) ids.push_back(id);
  // Oldest first: the order the tasks finished in.
  std::sort(ids.begin(), ids.end(), [&](const std::string& a, const std::string& b) {
    return pending_.at(a).row.finished_unix_ms < pending_.at(b).row.finished_unix_ms;
  });
  size_t written = 0;
  for (const auto& id : ids) {
    PendingRecord& p = pending_.at(id);
    if (auto fin = store_->FinishTask(p.row, p.evidence); !fin) {
      pending_reason_ = fin.error().Message();
      break;
    }
    pending_.erase(id);
    ++written;
  }
  if (written > 0 || pending_.empty()) SaveSpool();
  if (pending_.empty()) {
    pending_retry_ns_ = 0;
    if (written > 0) Log("wrote " + std::to_string(written) + " pending task records; admitting tasks again");
  } else {
    pending_retry_ns_ = sys::MonotonicNs() + kPendingRetryNs;
  }
}

void Daemon::SaveSpool() {
  if (!spool_) return;
  std::vector<const PendingRecord*> recs;
  for (const auto& [id, p] : pending_) recs.push_back(&p);
  std::sort(recs.begin(), recs.end(), [](const PendingRecord* a, const PendingRecord* b) {
    return a->row.finished_unix_ms < b->row.finished_unix_ms;
  });
  size_t written = 0;
  if (auto s = spool_->Save(recs, &written); !s) {
    Log("writing the record spool failed: " + s.error().Message() + "; " + std::to_string(recs.size()) +
        " pending records are in memory only (lost if cordond stops before the disk takes them)");
  } else if (written < recs.size()) {
    Log("the record spool holds " + std::to_string(written) + " of " + std::to_string(recs.size()) +
        " pending records; the others are in memory only");
  }
}

const PendingRecord* Daemon::FindPending(const std::string& id) const {
  auto it = pending_.find(id);
  return it == pending_.end() ? nullptr : &it->second;
}

Result<std::optional<TaskRow>> Daemon::FindTaskRow(const std::string& id, Live** live, const PendingRecord** pending) {
  if (auto it = live_by_id_.find(id); it != live_by_id_.end()) {
    *live = live_.at(it->second).get();
    return std::optional<TaskRow>((*live)->row);
  }
  if ((*pending = FindPending(id))) return std::optional<TaskRow>((*pending)->row);  // its record waits for the database
  return store_->GetTask(id);
}

std::optional<TaskRow> Daemon::FindVisibleTaskRow(Conn& c, uint64_t call_id, const std::string& id,
                                                  const Principal& p, Live** live, const PendingRecord** pending) {
  auto r = FindTaskRow(id, live, pending);
  if (!r) {
    ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, r.error().Message());
    return std::nullopt;
  }
  if (!*r || !MayManage(config_->principals, p, (*r)->principal)) {
    ReplyError(c, call_id, api::ERROR_CODE_NOT_FOUND,
               "no task " + id + " visible to principal '" + p.name + "' (cordon ps lists yours)");
    return std::nullopt;
  }
  return *r;
}

std::string Daemon::PendingRefusal() const {
  return "cordond cannot write task records to its state database (" + pending_reason_ + "); " +
         std::to_string(pending_.size()) +
         " finished tasks' records are pending, and no new task is admitted until they are written: free space in " +
         opts_.state_dir + ", then submit again (cordond retries every second)";
}

}  // namespace cordon::daemon::internal
