// supervisor/daemon/daemon.cc: cordond's event loop: the listening socket, client connections and
// their frames, task lifecycle (watches, deadlines, finish records, waiters), signals, reload and
// shutdown. The API calls themselves are in calls.cc.
#include "supervisor/daemon/daemon_internal.h"

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "supervisor/cgroup/task_cgroup.h"

namespace cordon::daemon {
namespace internal {

Result<void> Daemon::Init() {
  // First: the systemd variables are unset here, before anything could pass them on to a shim.
  CORDON_ASSIGN_OR_RETURN(sd_env_, systemd::TakeEnvironment(::getpid()));
  CORDON_TRY(sd_.Open(sd_env_));
  // Before anything else is opened: an fd 3 that systemd did not fill must not be mistaken for
  // one of our own files.
  if (sd_env_.listen_fds) {
    CORDON_ASSIGN_OR_RETURN(listen_, systemd::AdoptListenFd(sd_env_));
  }
  // Task fds (control socket, pidfd, listener, lease) add up: allow as many as the hard limit.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (::mkdir(opts_.state_dir.c_str(), 0700) < 0 && errno != EEXIST)
    return Fail(errno, "mkdir " + opts_.state_dir, "create the state dir's parent, or pass --state-dir");
  // The owner mark of this daemon's task cgroups names its state dir: the next cordond on the same
  // state dir sweeps them at start whatever their age (sweep.cc).
  if (struct stat sd{}; ::stat(opts_.state_dir.c_str(), &sd) == 0)
    cgroup::SetOwnerInstance("sd:" + std::to_string(sd.st_dev) + ":" + std::to_string(sd.st_ino));
  // One daemon per state dir: the recovery below must not kill another live daemon's tasks.
  state_lock_.Reset(::open((opts_.state_dir + "/cordond.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!state_lock_) return Fail(errno, "open " + opts_.state_dir + "/cordond.lock");
  if (::flock(state_lock_.Get(), LOCK_EX | LOCK_NB) < 0)
    return Fail(errno, "lock " + opts_.state_dir + "/cordond.lock",
                "another cordond uses this state dir; stop it or pass a different --state-dir");
  CORDON_ASSIGN_OR_RETURN(store_, Store::Open(opts_.state_dir + "/state.db"));
  store_->SetSyncDecisions(opts_.sync_decisions);
  // The write-ahead log's checkpoints (a few ms of copying and an fdatasync every ~80 tasks) on
  // the chores thread, not the loop.
  store_->CheckpointWith([this](std::move_only_function<void()> job) { chores_.Post(std::move(job)); });
  // The configuration is read first (the evidence log's key path is in daemon.json) and put in
  // force after governance and tokens are set up, as before.
  ConfigPaths cp{opts_.config_dir, opts_.runtime.data_dir, true, opts_.bpf_cache};
  CORDON_ASSIGN_OR_RETURN(Config cfg, LoadConfig(cp));
  std::vector<std::string> evlog_notes;
  CORDON_ASSIGN_OR_RETURN(evlog_, EvidenceLog::Open(opts_.state_dir, &evlog_notes, opts_.evidence_log,
                                                    cfg.settings.evlog_signing_key));
  for (const auto& n : evlog_notes) Log(n);
  CORDON_ASSIGN_OR_RETURN(budgets_, BudgetGate::Open(opts_.state_dir + "/state.db", evlog_.get()));
  CORDON_TRY(InitGovernance());  // governance (wip/govb): STATE/governance.db
  CORDON_TRY(InitTokens());  // identity tokens' key (tokens.cc)

  for (const auto& n : cfg.notes) Log(n);
  for (const auto& n : evlog_->ConfigLoaded(cfg)) Log(n);  // secret bindings (docs/evidence.md)
  config_ = std::make_shared<const Config>(std::move(cfg));
  Log(CurrentRetention().why);
  PlanPool();

  auto layout = cgroup::DetectLayout();
  if (layout && layout->no_cgroup_reason.empty()) {
    if (auto prep = cgroup::PrepareBase(*layout); !prep) layout->no_cgroup_reason = prep.error().Message();
  }
  if (layout) {
    cgroups_ = std::move(*layout);
    if (!cgroups_->no_cgroup_reason.empty()) Log("no per-task cgroups: " + cgroups_->no_cgroup_reason);
  } else {
    Log("no per-task cgroups: " + layout.error().Message());
  }

  CORDON_TRY(LoadSpool());  // before the recovery: a task whose record was pending did finish
  std::set<std::string> pending_ids;
  for (const auto& [id, p] : pending_) pending_ids.insert(id);
  CORDON_ASSIGN_OR_RETURN(RecoveryReport rep,
                          RecoverUnfinished(*store_, NowUnixMs(), cgroups_ && cgroups_->no_cgroup_reason.empty()
                                                                      ? &*cgroups_ : nullptr, pending_ids,
                                                    evlog_.get()));
  for (const auto& line : rep.log) Log(line);
  SweepLeftovers(/*at_start=*/true);  // after the recovery, which reports the cgroups of the tasks it ends
  last_purge_ms_ = NowUnixMs();
  (void)store_->PurgeKeys(last_purge_ms_ - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);

  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return Fail(errno, "epoll_create1");
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigfd_.Reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd_) return Fail(errno, "signalfd");
  epoll_event ev{EPOLLIN, {.u64 = Token(kSignalSerial, sigfd_.Get())}};
  if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, sigfd_.Get(), &ev) < 0) return Fail(errno, "epoll_ctl signalfd");
  if (evlog_->event_fd() >= 0) {
    epoll_event lev{EPOLLIN, {.u64 = Token(kEvlogSerial, evlog_->event_fd())}};
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, evlog_->event_fd(), &lev) < 0)
      return Fail(errno, "epoll_ctl the evidence log's sealer eventfd");
  }
  if (opts_.sync_decisions) {
    // The database's write-ahead log exists once the store has written (recovery, the purge).
    auto w = SyncWorker::Start(opts_.state_dir + "/state.db-wal");
    if (w) {
      epoll_event sev{EPOLLIN, {.u64 = Token(kSyncSerial, (*w)->event_fd())}};
      if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, (*w)->event_fd(), &sev) == 0) syncer_ = std::move(*w);
    } else {
      Log("refusals' decisions are synced on the event loop: " + w.error().Message());
    }
  }
  // Sandboxes are built off the loop (sandbox_builder.h); without the builder, on it.
  if (auto b = SandboxBuilder::Start(); b) {
    epoll_event bev{EPOLLIN, {.u64 = Token(kBuildSerial, (*b)->event_fd())}};
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, (*b)->event_fd(), &bev) == 0) {
      builder_ = std::move(*b);
    } else {
      Log(std::string("sandboxes are built on the event loop: epoll_ctl: ") + std::strerror(errno));
    }
  } else {
    Log("sandboxes are built on the event loop: " + b.error().Message());
  }
  CORDON_TRY(Listen());
  CORDON_TRY(StartMetrics());  // metrics_call.cc
  Log("listening on " + (sd_env_.listen_fds ? systemd::SocketPath(listen_.Get()) + " (socket from systemd)" : opts_.socket_path) + " (state " + opts_.state_dir + ", config " + opts_.config_dir + ", " +
      (::geteuid() == 0 ? "rootful" : "rootless") + ")");
  return {};
}

Result<void> Daemon::Listen() {
  if (listen_) {  // socket activation (Init): systemd owns the socket file, socket_ino_ stays 0
    epoll_event ev{EPOLLIN, {.u64 = Token(kListenSerial, listen_.Get())}};
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, listen_.Get(), &ev) < 0) return Fail(errno, "epoll_ctl listen");
    return {};
  }
  const std::string& path = opts_.socket_path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return FailMsg("socket path too long: " + path, "use a shorter --socket");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  std::string parent = path.substr(0, path.rfind('/'));
  if (!parent.empty()) {
    // mkdir -p; every level 0755 so that other users can reach the socket.
    if (!MkdirAll(parent, 0755, 0755)) return Fail(errno, "mkdir " + parent);
  }
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return Fail(errno, "socket");
  if (::bind(s.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    if (errno != EADDRINUSE) return Fail(errno, "bind " + path);
    // A socket file is there: in use by a live daemon, or left by a dead one.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      return FailMsg("another cordond is listening on " + path, "stop it, or pass a different --socket");
    ::unlink(path.c_str());
    if (::bind(s.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return Fail(errno, "bind " + path);
  }
  // 0666: every local user reaches admission, which is where refusals come from (with a reason).
  if (::chmod(path.c_str(), 0666) < 0) return Fail(errno, "chmod " + path);
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) socket_ino_ = st.st_ino;
  if (::listen(s.Get(), 1024) < 0) return Fail(errno, "listen " + path);
  listen_ = std::move(s);
  epoll_event ev{EPOLLIN, {.u64 = Token(kListenSerial, listen_.Get())}};
  if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, listen_.Get(), &ev) < 0) return Fail(errno, "epoll_ctl listen");
  return {};
}

void Daemon::Run() {
  epoll_event events[256];
  for (;;) {
    uint64_t now = sys::MonotonicNs();
    pool_next_retire_ns_ = RetireOldPooled(now);
    RefillPool();  // before waiting: also at start, and after whatever the last events changed
    NotifyService(now);
    UpdateMetricsGauges();
    if (stopping_) {
      if (!killed_all_ && now >= stop_kill_at_) BeginStop(true);
      // Sandboxes still being built come back first (and are discarded, OnBuilt).
      if (live_.empty() && cold_builds_.empty() && pool_builds_.empty()) break;
      if (killed_all_ && now >= stop_give_up_at_) {
        Log(std::to_string(live_.size()) + " tasks did not end after the kill; exiting anyway");
        break;
      }
    }
    int n = ::epoll_wait(epoll_.Get(), events, 256, NextTimeoutMs(now));
    if (n < 0 && errno != EINTR) {
      Log(std::string("epoll_wait: ") + std::strerror(errno));
      break;
    }
    // Two passes: tasks first (their ends, records and Wait answers are cheap and let callers
    // go), then clients, whose Submits start sandboxes. With the frame budget, a burst of 200
    // Submits is taken kFramesPerLoop at a time, and the tasks already started are recorded and
    // answered in between, not after the whole burst (docs/performance.md).
    frame_budget_ = kFramesPerLoop;
    submits_this_turn_.clear();
    for (int pass = 0; pass < 2; ++pass) {
      for (int i = 0; i < n; ++i) {
        const uint64_t serial = events[i].data.u64 >> kFdBits;
        const int fd = static_cast<int>(events[i].data.u64 & ((1u << kFdBits) - 1));
        const bool client = serial == kListenSerial || conns_.contains(serial);
        if (client != (pass == 1)) continue;
        // One event's failure (an allocation, a library throwing on odd input) costs that client
        // its connection, never the daemon and the other tasks.
        try {
          if (serial == kListenSerial) {
            if (listen_) Accept();
          } else if (serial == kSignalSerial) {
            OnSignals();
          } else if (serial == kSyncSerial) {
            OnSynced();
          } else if (serial == kBuildSerial) {
            OnBuilt();
          } else if (serial == kEvlogSerial) {
            if (auto d = evlog_->SealerDone(); !d) Log("sealing the evidence log failed: " + d.error().Message());
          } else if (auto c = conns_.find(serial); c != conns_.end()) {
            OnConn(*c->second, events[i].events);
          } else if (auto t = live_.find(serial); t != live_.end()) {
            OnTask(*t->second, fd);
          } else if (auto p = pool_.find(serial); p != pool_.end()) {
            OnPooled(*p->second, fd);
          }
        } catch (const std::exception& e) {
          Log(std::string("internal error handling an event: ") + e.what());
          CloseConn(serial);
        }
      }
    }
    ResumeConns();
    RunDeadlines(sys::MonotonicNs());
  }
  // A build still under way after the give-up (a socket binding's connect that its service never
  // accepts) would hold the builder's thread, and its join, forever: the thread is left to end
  // with the process, and the shims it spawned with it (PDEATHSIG).
  if (!cold_builds_.empty() || !pool_builds_.empty()) {
    Log(std::to_string(cold_builds_.size() + pool_builds_.size()) + " sandbox builds did not come back; exiting anyway");
    (void)builder_.release();
  }
  // Best effort: whatever replies are queued (Wait answers for killed tasks) go out now.
  for (auto& [serial, c] : conns_) Flush(*c);
  if (auto c = evlog_->Close(); !c) Log("sealing the evidence log at shutdown failed: " + c.error().Message());
  Log("stopped");
}

int Daemon::NextTimeoutMs(uint64_t now) const {
  uint64_t next = 0;
  auto consider = [&](uint64_t d) {
    if (d && (next == 0 || d < next)) next = d;
  };
  for (const auto& [s, l] : live_) {
    consider(l->task->NextDeadlineNs());
    for (const auto& w : l->waiters) consider(w.deadline_ns);
  }
  for (const auto& [s, c] : conns_) {
    consider(c->deadline_ns);
    if (Idle(*c)) consider(c->last_active_ns + opts_.idle_timeout_ms * 1'000'000ull);
  }
  if (!pending_.empty()) consider(pending_retry_ns_);
  consider(next_sweep_ns_);
  consider(ApprovalNextNs(now));  // approvals (wip/govc): expiries and ApprovalWait deadlines
  consider(evlog_->NextCheckpointNs());
  consider(sd_.NextPingNs());
  if (!stopping_) {
    for (const auto& [name, b] : pool_backoff_) consider(b.until_ns);
    consider(refill_not_before_ns_);
    consider(pool_next_retire_ns_);
  }
  if (stopping_) consider(killed_all_ ? stop_give_up_at_ : stop_kill_at_);
  if (!backlog_.empty()) return 0;
  if (next == 0) return -1;
  if (next <= now) return 0;
  return static_cast<int>(std::min<uint64_t>((next - now + 999'999) / 1'000'000, 60'000));
}

void Daemon::RunDeadlines(uint64_t now) {
  if (!pending_.empty() && now >= pending_retry_ns_) FlushPending();
  if (next_sweep_ns_ && now >= next_sweep_ns_) SweepLeftovers(false);
  if (auto t = evlog_->Tick(); !t) Log("sealing the evidence log failed: " + t.error().Message());
  if (uint64_t a = ApprovalNextNs(now); a && a <= now) ApprovalTick(now);  // approvals (wip/govc)
  std::vector<uint64_t> due;
  for (auto& [s, l] : live_) {
    uint64_t d = l->task->NextDeadlineNs();
    if (d && d <= now) due.push_back(s);
    for (size_t i = 0; i < l->waiters.size();) {
      if (l->waiters[i].deadline_ns && l->waiters[i].deadline_ns <= now) {
        AnswerWaiter(l->waiters[i], l->row, true);
        l->waiters.erase(l->waiters.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
  }
  for (uint64_t s : due) {
    auto it = live_.find(s);
    if (it == live_.end()) continue;
    it->second->task->OnDeadline(now);
    LaunchOnDemand(*it->second);
    SyncWatches(*it->second);
    AfterTask(s);
  }
  std::vector<uint64_t> expired, idle;
  for (auto& [s, c] : conns_) {
    if (c->deadline_ns && c->deadline_ns <= now) {
      expired.push_back(s);
    } else if (Idle(*c) && c->last_active_ns + opts_.idle_timeout_ms * 1'000'000ull <= now) {
      idle.push_back(s);
    }
  }
  for (uint64_t s : idle) {
    auto it = conns_.find(s);
    if (it == conns_.end()) continue;
    // Idle: no call in progress, no Wait pending, no task attached, nothing read or written for
    // --idle-timeout-ms (a peer that reads none of its replies is idle too).
    FailAndClose(*it->second, api::ERROR_CODE_TIMEOUT,
                 "connection idle for " + std::to_string(opts_.idle_timeout_ms) +
                     " ms (no call in progress); cordond closes idle connections: connect again for the next call");
  }
  for (uint64_t s : expired) {
    auto it = conns_.find(s);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    if (c.close_after_flush) {
      CloseConn(s);  // the error reply could not be delivered in time
    } else {
      FailAndClose(c, api::ERROR_CODE_TIMEOUT,
                   "frame incomplete " + std::to_string(opts_.read_timeout_ms) + " ms after its first byte");
    }
  }
}

// ---- calls ----

void Daemon::OnTask(Live& l, int fd) {
  const uint64_t serial = l.serial;
  if (l.state_walk && fd == l.state_walk->event_fd()) {
    OnStateBefore(l);
  } else {
    l.task->OnReady(fd);
  }
  LaunchOnDemand(l);
  SyncWatches(l);
  AfterTask(serial);
}

void Daemon::SyncWatches(Live& l) { SyncWatchSet(l.serial, *l.task, &l.watched); }

void Daemon::Unwatch(const std::set<int>& watched) {
  for (int fd : watched) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, fd, nullptr);
}

void Daemon::SyncWatchSet(uint64_t serial, const Task& task, std::set<int>* watched) {
  const std::vector<int> want_list = task.Watches();
  const std::set<int> want(want_list.begin(), want_list.end());
  for (int fd : *watched)
    if (!want.contains(fd)) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, fd, nullptr);  // may be closed already
  for (int fd : want) {
    epoll_event ev{EPOLLIN, {.u64 = Token(serial, fd)}};
    // MOD first: if the Task closed an fd and got the same number back for a new one, the old
    // registration vanished with the close and MOD fails with ENOENT.
    if (watched->contains(fd) && ::epoll_ctl(epoll_.Get(), EPOLL_CTL_MOD, fd, &ev) == 0) continue;
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
      Log("epoll_ctl add task fd: " + std::string(std::strerror(errno)));
  }
  *watched = want;
}

void Daemon::AfterTask(uint64_t serial) {
  auto it = live_.find(serial);
  if (it == live_.end()) return;
  Live& l = *it->second;
  if (l.task->finished() && !l.recorded) {
    RecordFinish(l);
    if (serial == last_started_serial_) refill_not_before_ns_ = 0;  // the pool may refill now
  }
  if (!l.task->done()) return;
  Unwatch(l.watched);
  live_by_id_.erase(l.row.id);
  DiscardTask(std::move(l.task));  // removing its cgroups (a few ms of cgroupfs) off the loop
  live_.erase(it);
}

void Daemon::RecordFinish(Live& l) {
  const TaskOutcome& o = l.task->outcome();
  TaskRow& r = l.row;
  r.state = "finished";
  r.exit_code = o.exit_code;
  r.failure_class = FailureClassName(o.failure);
  r.message = o.message;
  r.finished_unix_ms = NowUnixMs();
  std::string evidence;
  nlohmann::json ev;  // kept for the metrics, which would otherwise parse `evidence` again
  try {
    ev = l.task->Evidence();
    // A cold start's sandbox is built the pool's way, on demand: not a pooled one.
    if (l.on_demand) ev["sandbox"]["pooled"] = false;
    if (!l.artifact.empty()) ev["artifact"] = nlohmann::json::parse(l.artifact);  // evidence.md "Artifact hash"
    budgets_->Finished(*config_, r, &ev);  // charges its session and envelopes (docs/governance.md)
    evidence = AddAdmissionToEvidence(&ev, r);
  } catch (const std::exception& e) {
    // nlohmann::json refuses to print a string that is not UTF-8 (an argument, say).
    evidence = R"({"task_id":")" + r.id + R"(","error":"evidence record could not be written"})";
    Log("evidence of task " + r.id + ": " + e.what());
  }
  const bool is_json = evlog_->RedactTask(&r, &evidence);
  if (auto a = evlog_->Task(r, evidence, is_json); !a) {
    Log("evidence log: task " + r.id + ": " + a.error().Message());
    metrics_.LogError();
  }
  // While records are pending, later ones queue behind them (and keep their order).
  // (A copy: governance reads the evidence below, GovernedFinish's refused egress among it.)
  if (!pending_.empty()) {
    KeepPending(r, evidence, Error{0, pending_reason_, ""});
    r.record_pending = true;
  } else if (auto fin = store_->FinishTask(r, evidence); !fin) {
    KeepPending(r, evidence, fin.error());
    r.record_pending = true;
  }
  l.recorded = true;
  LogTaskFinished(r);  // journal.h
  metrics_.TaskFinished(r, ev);  // metrics.h
  GovernedFinish(l, evidence);  // governance (wip/govb, wip/govc)
  if (l.attached_conn) {
    if (auto it = conns_.find(l.attached_conn); it != conns_.end()) {
      if (it->second->attached > 0) --it->second->attached;
      MaybeClose(*it->second);  // a peer that half-closed after its submit is done now
    }
    l.attached_conn = 0;
  }
  for (auto& fd : l.stdio) fd.Reset();
  for (const Waiter& w : l.waiters) AnswerWaiter(w, r, false);
  l.waiters.clear();
}

void Daemon::AnswerWaiter(const Waiter& w, const TaskRow& row, bool timed_out) {
  auto it = conns_.find(w.conn);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (c.waits > 0) --c.waits;
  api::Response resp;
  resp.set_call_id(w.call_id);
  FillInfo(row, resp.mutable_wait()->mutable_task());
  MarkGoverned(resp.mutable_wait()->mutable_task());  // governance: frozen, session
  resp.mutable_wait()->set_timed_out(timed_out);
  Reply(c, resp);
}

// ---- signals ----

void Daemon::OnSignals() {
  signalfd_siginfo si;
  while (::read(sigfd_.Get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGHUP) {
      Reload();
    } else {
      // The first SIGTERM/SIGINT starts the graceful stop; a second one skips the grace period.
      BeginStop(stopping_);
    }
  }
}

void Daemon::Reload() {
  sd_.Reloading();
  sd_ready_ = false;  // READY=1 again at the next turn, with the new status
  if (auto k = evlog_->RotateStagedKey(); !k) Log("SIGHUP: evidence log key rotation failed: " + k.error().Message());
  else if (!k->empty()) Log("SIGHUP: " + *k);
  ConfigPaths cp{opts_.config_dir, opts_.runtime.data_dir, true, opts_.bpf_cache};
  auto cfg = LoadConfig(cp);
  if (!cfg) {
    Log("SIGHUP: reload failed, keeping the previous principals and policies (and daemon.json settings): " +
        cfg.error().Message());
    return;
  }
  for (const auto& n : cfg->notes) Log("SIGHUP: " + n);
  for (const auto& n : evlog_->ConfigLoaded(*cfg)) Log("SIGHUP: " + n);  // secret bindings (docs/evidence.md)
  config_ = std::make_shared<const Config>(std::move(*cfg));  // running tasks keep their own policy
  NoteMetricsReload();                        // metrics_call.cc
  Log("SIGHUP: " + CurrentRetention().why);  // applied at the next sweep
  DiscardStalePool(false, "SIGHUP: their policy or seccomp filter changed");
  PlanPool();
}

void Daemon::BeginStop(bool kill_now) {
  const uint64_t now = sys::MonotonicNs();
  if (!stopping_) {
    stopping_ = true;
    stop_kill_at_ = now + opts_.grace_ms * 1'000'000ull;
    if (listen_) {
      ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, listen_.Get(), nullptr);
      listen_.Reset();
      struct stat st{};
      if (::stat(opts_.socket_path.c_str(), &st) == 0 && st.st_ino == socket_ino_) ::unlink(opts_.socket_path.c_str());
    }
    Log("stopping: no new tasks; " + std::to_string(live_.size()) + " running tasks get " +
        std::to_string(opts_.grace_ms) + " ms");
    DiscardStalePool(true, "stopping");
    sd_.Stopping("stopping: " + std::to_string(live_.size()) + " tasks running");
  }
  if (!kill_now || killed_all_) return;
  killed_all_ = true;
  stop_give_up_at_ = now + kShutdownGiveUpNs;
  if (!live_.empty()) Log("killing " + std::to_string(live_.size()) + " remaining tasks");
  std::vector<uint64_t> serials;
  for (auto& [s, l] : live_) serials.push_back(s);
  for (uint64_t s : serials) {
    Live& l = *live_.at(s);
    if (!l.task->finished())
      l.task->Kill(FailureClass::kKilled, "cordond stopped: the task outlived the " + std::to_string(opts_.grace_ms) +
                                              " ms shutdown grace period and was killed");
    SyncWatches(l);
    AfterTask(s);
  }
}

}  // namespace internal

using internal::Daemon;

Result<void> RunDaemon(const DaemonOptions& opts) {
  // Signals arrive on the signalfd; SIGPIPE is blocked so that a write to a caller's closed pipe
  // (output pumps) returns EPIPE instead of killing the daemon. Shims start with an empty mask.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  // The protobuf runtime logs parse problems (invalid UTF-8…) to stderr; a client could flood the
  // log with them. The daemon reports a bad frame to its sender instead.
  google::protobuf::SetLogHandler(nullptr);
  Daemon d(opts);
  CORDON_TRY(d.Init());
  d.Run();
  return {};
}

}  // namespace cordon::daemon
