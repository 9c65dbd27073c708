#include "supervisor/daemon/daemon.h"

#include "supervisor/bindings.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include <google/protobuf/stubs/logging.h>

#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "proto/cordon.pb.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/daemon/admission.h"
#include "supervisor/daemon/config.h"
#include "supervisor/daemon/frame.h"
#include "supervisor/daemon/procfs.h"
#include "supervisor/daemon/recovery.h"
#include "supervisor/daemon/store.h"

namespace cordon::daemon {
namespace api = ::cordon::api::v1;
namespace {

// epoll tokens: (serial << 20) | fd. Serials 1 and 2 are the listening socket and the signalfd;
// connections and tasks get fresh serials, so an event for a closed connection whose fd number was
// reused in the same epoll batch finds no owner instead of the wrong one.
constexpr uint64_t kListenSerial = 1, kSignalSerial = 2;
constexpr int kFdBits = 20;
constexpr size_t kMaxFdBindings = 64;       // caller binding fds one Submit may carry
constexpr size_t kMaxPendingFds = 3 + kMaxFdBindings;  // fds received but not yet claimed by a Submit frame
constexpr size_t kMaxOutBytes = 16u << 20;  // a client that reads no replies is dropped past this
constexpr size_t kRecvChunk = 65536;
constexpr uint64_t kShutdownGiveUpNs = 15'000'000'000ull;  // after the kill, before exiting anyway

uint64_t Token(uint64_t serial, int fd) { return (serial << kFdBits) | static_cast<uint64_t>(fd); }

int64_t NowUnixMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Log(const std::string& msg) { std::fprintf(stderr, "cordond: %s\n", msg.c_str()); }

std::string ClassName(api::TaskClass c) {
  switch (c) {
    case api::TASK_CLASS_INTERACTIVE: return "interactive";
    case api::TASK_CLASS_PRIVILEGED: return "privileged";
    case api::TASK_CLASS_BATCH:
    case api::TASK_CLASS_UNSPECIFIED: return "batch";
    default: return "unknown(" + std::to_string(static_cast<int>(c)) + ")";
  }
}

api::TaskClass ClassEnum(const std::string& s) {
  if (s == "interactive") return api::TASK_CLASS_INTERACTIVE;
  if (s == "privileged") return api::TASK_CLASS_PRIVILEGED;
  return api::TASK_CLASS_BATCH;
}

api::TaskState StateEnum(const std::string& s) {
  if (s == "admitted") return api::TASK_STATE_ADMITTED;
  if (s == "running") return api::TASK_STATE_RUNNING;
  return api::TASK_STATE_FINISHED;
}

void FillInfo(const TaskRow& r, api::TaskInfo* t) {
  t->set_task_id(r.id);
  t->set_principal(r.principal);
  t->set_tenant(r.tenant);
  t->set_app_id(r.app_id);
  t->set_class_(ClassEnum(r.cls));
  t->set_policy(r.policy);
  t->set_policy_version(r.policy_version);
  t->set_state(StateEnum(r.state));
  for (const auto& a : r.argv) t->add_argv(a);
  t->set_request_id(r.request_id);
  t->set_exit_code(r.exit_code);
  t->set_failure_class(r.failure_class);
  t->set_message(r.message);
  t->set_created_unix_ms(r.created_unix_ms);
  t->set_finished_unix_ms(r.finished_unix_ms);
  if (r.state != "finished") t->set_shim_pid(r.shim_pid);
}

api::ErrorCode CodeOf(Verdict v) {
  switch (v) {
    case Verdict::kAllow: return api::ERROR_CODE_OK;
    case Verdict::kUnauthenticated: return api::ERROR_CODE_UNAUTHENTICATED;
    case Verdict::kPermissionDenied: return api::ERROR_CODE_PERMISSION_DENIED;
    case Verdict::kInvalidArgument: return api::ERROR_CODE_INVALID_ARGUMENT;
  }
  return api::ERROR_CODE_INTERNAL;
}

struct Waiter {
  uint64_t conn = 0;
  uint64_t call_id = 0;
  uint64_t deadline_ns = 0;  // 0: none
};

struct Conn {
  uint64_t serial = 0;
  UniqueFd fd;
  PeerCred peer;
  FrameDecoder decoder;
  std::deque<UniqueFd> fds;   // received with SCM_RIGHTS, not yet claimed by a Submit
  std::string out;
  size_t out_off = 0;
  uint64_t deadline_ns = 0;   // a started frame must complete (or an error reply drain) by then
  bool read_closed = false;   // EOF, or an error was sent: nothing more is read
  bool close_after_flush = false;
  uint32_t events = 0;        // as registered with epoll
  size_t waits = 0;           // Wait calls of this connection still pending
};

struct Live {
  uint64_t serial = 0;
  std::unique_ptr<Task> task;
  TaskRow row;
  std::set<int> watched;
  UniqueFd stdio[3];  // the caller's fds, kept only while the Task pumps output into them
  bool recorded = false;
  std::vector<Waiter> waiters;
};

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : opts_(o) {}
  Result<void> Init();
  void Run();

 private:
  Result<void> Listen();
  void Accept();
  void OnSignals();
  void Reload();
  void BeginStop(bool now);

  void OnConn(Conn& c, uint32_t events);
  void HandleFrame(Conn& c, const std::string& payload);
  void HandleSubmit(Conn& c, uint64_t call_id, const api::SubmitRequest& req);
  void HandleTaskCall(Conn& c, const api::Request& req);
  void HandleList(Conn& c, uint64_t call_id, const api::ListRequest& req);
  void Reply(Conn& c, const api::Response& resp);
  void ReplyError(Conn& c, uint64_t call_id, api::ErrorCode code, const std::string& msg);
  void FailAndClose(Conn& c, api::ErrorCode code, const std::string& msg);
  void Flush(Conn& c);
  void UpdateEvents(Conn& c);
  void MaybeClose(Conn& c);
  void CloseConn(uint64_t serial);

  Result<std::unique_ptr<Task>> StartSandbox(const LoadedPolicy& lp, const TaskRequest& req, uint64_t received_ns);
  void OnTask(Live& l, int fd);
  void SyncWatches(Live& l);
  void AfterTask(uint64_t serial);
  void RecordFinish(Live& l);
  void AnswerWaiter(const Waiter& w, const TaskRow& row, bool timed_out);
  void RunDeadlines(uint64_t now);
  int NextTimeoutMs(uint64_t now) const;

  const DaemonOptions& opts_;
  UniqueFd epoll_, listen_, sigfd_, state_lock_;
  ino_t socket_ino_ = 0;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const Config> config_;
  std::optional<cgroup::Layout> cgroups_;
  uint64_t next_serial_ = 16;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<uint64_t, std::unique_ptr<Live>> live_;
  std::unordered_map<std::string, uint64_t> live_by_id_;
  int64_t last_purge_ms_ = 0;
  bool stopping_ = false, killed_all_ = false;
  uint64_t stop_kill_at_ = 0, stop_give_up_at_ = 0;
};

Result<void> Daemon::Init() {
  // Task fds (control socket, pidfd, listener, lease) add up: allow as many as the hard limit.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (::mkdir(opts_.state_dir.c_str(), 0700) < 0 && errno != EEXIST)
    return Fail(errno, "mkdir " + opts_.state_dir, "create the state dir's parent, or pass --state-dir");
  // One daemon per state dir: the recovery below must not kill another live daemon's tasks.
  state_lock_.Reset(::open((opts_.state_dir + "/cordond.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!state_lock_) return Fail(errno, "open " + opts_.state_dir + "/cordond.lock");
  if (::flock(state_lock_.Get(), LOCK_EX | LOCK_NB) < 0)
    return Fail(errno, "lock " + opts_.state_dir + "/cordond.lock",
                "another cordond uses this state dir; stop it or pass a different --state-dir");
  CORDON_ASSIGN_OR_RETURN(store_, Store::Open(opts_.state_dir + "/state.db"));

  ConfigPaths cp{opts_.config_dir, opts_.runtime.data_dir, true, opts_.bpf_cache};
  CORDON_ASSIGN_OR_RETURN(Config cfg, LoadConfig(cp));
  for (const auto& n : cfg.notes) Log(n);
  config_ = std::make_shared<const Config>(std::move(cfg));

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

  CORDON_ASSIGN_OR_RETURN(RecoveryReport rep,
                          RecoverUnfinished(*store_, NowUnixMs(), cgroups_ && cgroups_->no_cgroup_reason.empty()
                                                                      ? &*cgroups_ : nullptr));
  for (const auto& line : rep.log) Log(line);
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
  CORDON_TRY(Listen());
  Log("listening on " + opts_.socket_path + " (state " + opts_.state_dir + ", config " + opts_.config_dir + ", " +
      (::geteuid() == 0 ? "rootful" : "rootless") + ")");
  return {};
}

Result<void> Daemon::Listen() {
  const std::string& path = opts_.socket_path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return FailMsg("socket path too long: " + path, "use a shorter --socket");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  std::string parent = path.substr(0, path.rfind('/'));
  if (!parent.empty()) {
    // mkdir -p; the last level is 0755 so that other users can reach the socket.
    for (size_t at = 1; at != std::string::npos; at = parent.find('/', at + 1)) {
      std::string dir = parent.substr(0, parent.find('/', at));
      if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) return Fail(errno, "mkdir " + dir);
      if (dir == parent) break;
    }
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
    if (stopping_) {
      if (!killed_all_ && now >= stop_kill_at_) BeginStop(true);
      if (live_.empty()) break;
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
    for (int i = 0; i < n; ++i) {
      const uint64_t serial = events[i].data.u64 >> kFdBits;
      const int fd = static_cast<int>(events[i].data.u64 & ((1u << kFdBits) - 1));
      // One event's failure (an allocation, a library throwing on odd input) costs that client
      // its connection, never the daemon and the other tasks.
      try {
        if (serial == kListenSerial) {
          if (listen_) Accept();
        } else if (serial == kSignalSerial) {
          OnSignals();
        } else if (auto c = conns_.find(serial); c != conns_.end()) {
          OnConn(*c->second, events[i].events);
        } else if (auto t = live_.find(serial); t != live_.end()) {
          OnTask(*t->second, fd);
        }
      } catch (const std::exception& e) {
        Log(std::string("internal error handling an event: ") + e.what());
        CloseConn(serial);
      }
    }
    RunDeadlines(sys::MonotonicNs());
  }
  // Best effort: whatever replies are queued (Wait answers for killed tasks) go out now.
  for (auto& [serial, c] : conns_) Flush(*c);
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
  for (const auto& [s, c] : conns_) consider(c->deadline_ns);
  if (stopping_) consider(killed_all_ ? stop_give_up_at_ : stop_kill_at_);
  if (next == 0) return -1;
  if (next <= now) return 0;
  return static_cast<int>(std::min<uint64_t>((next - now + 999'999) / 1'000'000, 60'000));
}

void Daemon::RunDeadlines(uint64_t now) {
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
    SyncWatches(*it->second);
    AfterTask(s);
  }
  std::vector<uint64_t> expired;
  for (auto& [s, c] : conns_)
    if (c->deadline_ns && c->deadline_ns <= now) expired.push_back(s);
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

// ---- connections ----

void Daemon::Accept() {
  for (;;) {
    int fd = ::accept4(listen_.Get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != ECONNABORTED) Log(std::string("accept: ") + std::strerror(errno));
      return;
    }
    UniqueFd sock(fd);
    if (conns_.size() >= opts_.max_connections) continue;  // closed: the client sees EOF and may retry
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) continue;
    auto c = std::make_unique<Conn>();
    c->serial = next_serial_++;
    c->fd = std::move(sock);
    c->peer = PeerCred{cred.pid, cred.uid, cred.gid};
    c->events = EPOLLIN;
    epoll_event ev{c->events, {.u64 = Token(c->serial, fd)}};
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, fd, &ev) < 0) continue;
    conns_[c->serial] = std::move(c);
  }
}

void Daemon::OnConn(Conn& c, uint32_t events) {
  const uint64_t serial = c.serial;
  if (events & (EPOLLERR | EPOLLHUP)) {
    CloseConn(serial);  // the peer is gone in both directions: nobody reads replies
    return;
  }
  if (events & EPOLLOUT) {
    Flush(c);
    if (!conns_.contains(serial)) return;
  }
  if (!(events & EPOLLIN) || c.read_closed) return;
  char buf[kRecvChunk];
  auto got = RecvMsg(c.fd.Get(), buf, sizeof buf, kMaxPendingFds, MSG_DONTWAIT);
  if (!got) {
    if (got.error().err == EAGAIN || got.error().err == EINTR) return;
    FailAndClose(c, api::ERROR_CODE_MALFORMED, got.error().Message());
    return;
  }
  for (auto& fd : got->fds) c.fds.push_back(std::move(fd));
  if (c.fds.size() > kMaxPendingFds) {
    FailAndClose(c, api::ERROR_CODE_MALFORMED,
                 "more than " + std::to_string(kMaxPendingFds) + " fds received ahead of the frames that claim them");
    return;
  }
  if (got->len == 0) {
    c.read_closed = true;
    if (c.decoder.MidFrame()) {
      FailAndClose(c, api::ERROR_CODE_TRUNCATED,
                   "connection closed " + std::to_string(c.decoder.Buffered()) + " bytes into a frame");
      return;
    }
    c.deadline_ns = 0;
    UpdateEvents(c);
    MaybeClose(c);
    return;
  }
  c.decoder.Append(buf, got->len);
  std::string payload;
  for (;;) {
    auto st = c.decoder.Next(&payload);
    if (st == FrameDecoder::Status::kNeedMore) break;
    if (st == FrameDecoder::Status::kTooLarge) {
      FailAndClose(c, api::ERROR_CODE_TOO_LARGE,
                   "frame length exceeds " + std::to_string(kMaxFrameBytes) + " bytes");
      return;
    }
    HandleFrame(c, payload);
    if (!conns_.contains(serial) || c.read_closed) return;
  }
  if (!c.decoder.MidFrame()) {
    c.deadline_ns = 0;
    c.fds.clear();  // sent with frames that did not claim them
  } else if (c.deadline_ns == 0) {
    c.deadline_ns = sys::MonotonicNs() + opts_.read_timeout_ms * 1'000'000ull;
  }
}

void Daemon::HandleFrame(Conn& c, const std::string& payload) {
  api::Request req;
  if (!req.ParseFromString(payload)) {
    FailAndClose(c, api::ERROR_CODE_MALFORMED, "frame of " + std::to_string(payload.size()) +
                                                   " bytes is not a cordon.api.v1.Request");
    return;
  }
  switch (req.call_case()) {
    case api::Request::kSubmit: return HandleSubmit(c, req.call_id(), req.submit());
    case api::Request::kList: return HandleList(c, req.call_id(), req.list());
    case api::Request::kWait:
    case api::Request::kStatus:
    case api::Request::kCancel:
    case api::Request::kEvidence: return HandleTaskCall(c, req);
    case api::Request::CALL_NOT_SET: break;
  }
  ReplyError(c, req.call_id(), api::ERROR_CODE_INVALID_ARGUMENT,
             "the Request sets no call (or one this daemon does not know): set submit, wait, status, cancel, list "
             "or evidence");
}

void Daemon::Reply(Conn& c, const api::Response& resp) {
  std::string body;
  resp.SerializeToString(&body);
  if (c.out.size() - c.out_off + body.size() > kMaxOutBytes) {
    Log("dropping connection of pid " + std::to_string(c.peer.pid) + ": it does not read its replies");
    CloseConn(c.serial);
    return;
  }
  c.out += EncodeFrame(body);
  Flush(c);
}

void Daemon::ReplyError(Conn& c, uint64_t call_id, api::ErrorCode code, const std::string& msg) {
  api::Response r;
  r.set_call_id(call_id);
  r.mutable_error()->set_code(code);
  r.mutable_error()->set_message(msg);
  Reply(c, r);
}

void Daemon::FailAndClose(Conn& c, api::ErrorCode code, const std::string& msg) {
  c.read_closed = true;
  c.close_after_flush = true;
  c.deadline_ns = sys::MonotonicNs() + opts_.read_timeout_ms * 1'000'000ull;
  const uint64_t serial = c.serial;
  ReplyError(c, 0, code, msg);
  if (auto it = conns_.find(serial); it != conns_.end()) {
    UpdateEvents(*it->second);
    MaybeClose(*it->second);
  }
}

void Daemon::Flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd.Get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      CloseConn(c.serial);
      return;
    }
    c.out_off += static_cast<size_t>(n);
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  }
  UpdateEvents(c);
  MaybeClose(c);
}

void Daemon::UpdateEvents(Conn& c) {
  uint32_t want = (c.read_closed ? 0u : uint32_t{EPOLLIN}) | (c.out.empty() ? 0u : uint32_t{EPOLLOUT});
  if (want == c.events) return;
  epoll_event ev{want, {.u64 = Token(c.serial, c.fd.Get())}};
  ::epoll_ctl(epoll_.Get(), EPOLL_CTL_MOD, c.fd.Get(), &ev);
  c.events = want;
}

void Daemon::MaybeClose(Conn& c) {
  if (!c.out.empty()) return;
  if (c.close_after_flush || (c.read_closed && c.waits == 0)) CloseConn(c.serial);
}

void Daemon::CloseConn(uint64_t serial) {
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, it->second->fd.Get(), nullptr);
  conns_.erase(it);
}

// ---- calls ----

void Daemon::HandleSubmit(Conn& c, uint64_t call_id, const api::SubmitRequest& req) {
  const uint64_t received = sys::MonotonicNs();
  const int64_t now_ms = NowUnixMs();
  Submission s;
  s.request_id = req.request_id();
  s.app_id = req.app_id();
  s.cls = ClassName(req.class_());
  if (!req.policy().empty()) s.policy = req.policy();
  s.argv.assign(req.argv().begin(), req.argv().end());
  s.env.assign(req.env().begin(), req.env().end());
  if (!req.cwd().empty()) s.cwd = req.cwd();
  s.stdio = req.stdio();
  s.fd_bindings.assign(req.fd_bindings().begin(), req.fd_bindings().end());
  // The fds this frame carried, if it says it carries them. Closed on return unless a task takes them.
  std::vector<UniqueFd> stdio;
  while (s.stdio && stdio.size() < 3 && !c.fds.empty()) {
    stdio.push_back(std::move(c.fds.front()));
    c.fds.pop_front();
  }
  std::vector<UniqueFd> bound;
  while (bound.size() < s.fd_bindings.size() && bound.size() < kMaxFdBindings && !c.fds.empty()) {
    bound.push_back(std::move(c.fds.front()));
    c.fds.pop_front();
  }

  std::shared_ptr<const Config> cfg = config_;
  Decision d = Admit(*cfg, c.peer, s);
  const std::string fp = Fingerprint(s);
  api::ErrorCode code = CodeOf(d.verdict);
  std::string reason = d.reason;
  std::optional<IdempotencyKey> key;
  if (d.allowed()) {
    if (stopping_) {
      code = api::ERROR_CODE_UNAVAILABLE;
      reason = "cordond is shutting down and admits no new tasks; submit again once it is back";
    } else if (s.fd_bindings.size() > kMaxFdBindings || bound.size() != s.fd_bindings.size()) {
      code = api::ERROR_CODE_INVALID_ARGUMENT;
      reason = "fd_bindings names " + std::to_string(s.fd_bindings.size()) + " fds but the frame carried " +
               std::to_string(bound.size()) + " after stdio (at most " + std::to_string(kMaxFdBindings) + ")";
    } else if (s.stdio && stdio.size() != 3) {
      code = api::ERROR_CODE_INVALID_ARGUMENT;
      reason = "stdio is set but the Submit frame carried " + std::to_string(stdio.size()) +
               " fds; send stdin, stdout and stderr as SCM_RIGHTS with the frame's first byte";
    } else if (!s.request_id.empty()) {
      auto k = store_->FindKey(d.principal->name, s.request_id,
                               now_ms - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);
      if (!k) {
        code = api::ERROR_CODE_INTERNAL;
        reason = k.error().Message();
      } else if (*k && (*k)->fingerprint != fp) {
        code = api::ERROR_CODE_CONFLICT;
        reason = "request_id '" + s.request_id + "' of principal '" + d.principal->name +
                 "' was already used for a different request (task " + (*k)->task_id +
                 "); use a new request_id for a new request";
      } else if (*k) {
        key = **k;
        reason = "replay of request_id '" + s.request_id + "': task " + key->task_id;
      }
    }
    if (code == api::ERROR_CODE_OK && !key && live_.size() >= opts_.max_tasks) {
      code = api::ERROR_CODE_UNAVAILABLE;
      reason = "cordond runs its limit of " + std::to_string(opts_.max_tasks) + " tasks; retry later";
    }
  }
  DecisionRow row;
  row.time_unix_ms = now_ms;
  row.peer_pid = c.peer.pid;
  row.peer_uid = c.peer.uid;
  row.peer_gid = c.peer.gid;
  if (d.principal) {
    row.principal = d.principal->name;
    row.tenant = d.principal->tenant;
  }
  row.policy = s.policy;
  if (d.policy) {
    row.policy_version = d.policy->policy->version;
    row.policy_sha256 = d.policy->policy->sha256;
  }
  row.principals_sha256 = cfg->principals.sha256;
  row.fingerprint = fp;
  row.request_id = s.request_id;
  row.app_id = s.app_id;
  row.cls = s.cls;
  row.allowed = code == api::ERROR_CODE_OK;
  row.reason = reason;
  auto decision_id = store_->RecordDecision(row);
  if (!decision_id) {
    Log("recording a decision failed, refusing the submit: " + decision_id.error().Message());
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL,
                      "cordond could not record the admission decision: " + decision_id.error().Message());
  }
  if (code != api::ERROR_CODE_OK) {
    Log("refused pid " + std::to_string(c.peer.pid) + " uid " + std::to_string(c.peer.uid) + ": " + reason);
    return ReplyError(c, call_id, code, reason);
  }

  api::Response resp;
  resp.set_call_id(call_id);
  api::SubmitResponse* out = resp.mutable_submit();
  out->set_decision_id(*decision_id);
  if (key) {
    out->set_replayed(true);
    if (auto it = live_by_id_.find(key->task_id); it != live_by_id_.end()) {
      FillInfo(live_.at(it->second)->row, out->mutable_task());
    } else if (auto t = store_->GetTask(key->task_id); t && *t) {
      FillInfo(**t, out->mutable_task());
    } else {
      return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "task " + key->task_id + " of the replayed request is gone");
    }
    return Reply(c, resp);
  }

  TaskRequest tr;
  tr.argv = s.argv;
  tr.env = s.env;
  tr.cwd = s.cwd;
  if (!s.stdio) {
    for (int i = 0; i < 3; ++i) stdio.emplace_back(::open("/dev/null", O_RDWR | O_CLOEXEC));
  }
  tr.stdin_fd = stdio[0].Get();
  tr.stdout_fd = stdio[1].Get();
  tr.stderr_fd = stdio[2].Get();
  // Bindings, keyed by the verified principal's tenant and the request's app id (docs/bindings.md).
  BindingContext bctx;
  bctx.state_root = opts_.state_dir + "/state";
  bctx.tenant = d.principal->tenant;
  bctx.app = s.app_id.empty() ? "default" : s.app_id;
  for (size_t i = 0; i < bound.size(); ++i) bctx.caller_fds[s.fd_bindings[i]] = bound[i].Get();
  auto opened = OpenBindings(*d.policy->policy, bctx);
  if (!opened) {
    std::string msg = opened.error().Message();
    if (!opened.error().hint.empty()) msg += " (" + opened.error().hint + ")";
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, msg);
  }
  tr.bindings = std::make_shared<std::vector<OpenBinding>>(std::move(*opened));
  // One caller that stops reading must not hold the loop: bounded wait for the output's tail.
  tr.output_drain_ms = 2000;
  auto task = StartSandbox(*d.policy, tr, received);
  if (!task) {
    Log("starting a sandbox failed: " + task.error().Message());
    std::string msg = "starting the sandbox failed: " + task.error().Message();
    if (!task.error().hint.empty()) msg += " (" + task.error().hint + ")";
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, msg);
  }
  auto l = std::make_unique<Live>();
  l->serial = next_serial_++;
  l->task = std::move(*task);
  TaskRow& t = l->row;
  t.id = l->task->id();
  t.principal = d.principal->name;
  t.tenant = d.principal->tenant;
  t.app_id = s.app_id;
  t.cls = s.cls;
  t.policy = s.policy;
  t.policy_version = d.policy->policy->version;
  t.policy_sha256 = d.policy->policy->sha256;
  t.argv = s.argv;
  t.request_id = s.request_id;
  t.fingerprint = fp;
  t.state = "running";
  if (auto pid = PidOfPidfd(l->task->shim_pidfd())) {
    t.shim_pid = *pid;
    if (auto st = ReadStartTime(*pid)) t.shim_start_time = *st;
  }
  t.created_unix_ms = now_ms;
  t.decision_id = *decision_id;
  if (auto ins = store_->InsertTask(t); !ins) Log("recording task " + t.id + " failed: " + ins.error().Message());
  if (d.policy->policy->limits.output_bytes > 0) {
    for (int i = 0; i < 3; ++i) l->stdio[i] = std::move(stdio[i]);  // the task writes into them
  }
  FillInfo(t, out->mutable_task());
  const uint64_t serial = l->serial;
  live_by_id_[t.id] = serial;
  Live& ref = *l;
  live_[serial] = std::move(l);
  SyncWatches(ref);
  Reply(c, resp);
  AfterTask(serial);
  if (now_ms - last_purge_ms_ > 60'000) {
    last_purge_ms_ = now_ms;
    (void)store_->PurgeKeys(now_ms - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);
  }
}

void Daemon::HandleTaskCall(Conn& c, const api::Request& req) {
  const uint64_t call_id = req.call_id();
  std::string id;
  switch (req.call_case()) {
    case api::Request::kWait: id = req.wait().task_id(); break;
    case api::Request::kStatus: id = req.status().task_id(); break;
    case api::Request::kCancel: id = req.cancel().task_id(); break;
    case api::Request::kEvidence: id = req.evidence().task_id(); break;
    default: return;
  }
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  if (id.empty()) return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, "task_id is empty");
  Live* live = nullptr;
  std::optional<TaskRow> row;
  if (auto it = live_by_id_.find(id); it != live_by_id_.end()) {
    live = live_.at(it->second).get();
    row = live->row;
  } else {
    auto r = store_->GetTask(id);
    if (!r) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, r.error().Message());
    row = *r;
  }
  if (!row || !MayManage(config_->principals, *p, row->principal))
    return ReplyError(c, call_id, api::ERROR_CODE_NOT_FOUND,
                      "no task " + id + " visible to principal '" + p->name + "' (cordon ps lists yours)");
  api::Response resp;
  resp.set_call_id(call_id);
  const bool finished = row->state == "finished";
  switch (req.call_case()) {
    case api::Request::kStatus:
      FillInfo(*row, resp.mutable_status()->mutable_task());
      break;
    case api::Request::kWait:
      if (!finished && live) {
        uint64_t t = req.wait().timeout_ms();
        live->waiters.push_back(Waiter{c.serial, call_id, t ? sys::MonotonicNs() + t * 1'000'000ull : 0});
        ++c.waits;
        return;
      }
      FillInfo(*row, resp.mutable_wait()->mutable_task());
      break;
    case api::Request::kCancel:
      FillInfo(*row, resp.mutable_cancel()->mutable_task());
      if (!finished && live) {
        live->task->Kill(FailureClass::kKilled, "cancelled by principal '" + p->name + "' through cordond");
        SyncWatches(*live);
      } else {
        resp.mutable_cancel()->set_already_finished(true);
      }
      break;
    case api::Request::kEvidence: {
      if (!finished)
        return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                          "task " + id + " is still running; its evidence is written when it finishes (cordon wait " +
                              id + ")");
      auto ev = store_->GetEvidence(id);
      if (!ev) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, ev.error().Message());
      resp.mutable_evidence()->set_task_id(id);
      resp.mutable_evidence()->set_evidence_json(*ev);
      break;
    }
    default: return;
  }
  Reply(c, resp);
}

void Daemon::HandleList(Conn& c, uint64_t call_id, const api::ListRequest& req) {
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  uint32_t limit = req.limit() == 0 ? 100 : std::min<uint32_t>(req.limit(), 1000);
  bool all_principals = MayManage(config_->principals, *p, "\x01(any other)");
  auto rows = store_->ListTasks(req.all(), limit, all_principals ? "" : p->name);
  if (!rows) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, rows.error().Message());
  api::Response resp;
  resp.set_call_id(call_id);
  for (const auto& r : *rows) FillInfo(r, resp.mutable_list()->add_tasks());
  Reply(c, resp);
}

// ---- tasks ----

// The one place the daemon starts a sandbox (Task::Start may grow parameters).
Result<std::unique_ptr<Task>> Daemon::StartSandbox(const LoadedPolicy& lp, const TaskRequest& req,
                                                   uint64_t received_ns) {
  CORDON_ASSIGN_OR_RETURN(TaskIdentity identity, AcquireIdentity(opts_.ids, opts_.id_lock_dir));
  return Task::Start(opts_.runtime, lp.policy, lp.filter, std::move(identity), req, received_ns,
                     cgroups_ ? &*cgroups_ : nullptr);
}

void Daemon::OnTask(Live& l, int fd) {
  const uint64_t serial = l.serial;
  l.task->OnReady(fd);
  SyncWatches(l);
  AfterTask(serial);
}

void Daemon::SyncWatches(Live& l) {
  const std::vector<int> want_list = l.task->Watches();
  const std::set<int> want(want_list.begin(), want_list.end());
  for (int fd : l.watched)
    if (!want.contains(fd)) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, fd, nullptr);  // may be closed already
  for (int fd : want) {
    epoll_event ev{EPOLLIN, {.u64 = Token(l.serial, fd)}};
    // MOD first: if the Task closed an fd and got the same number back for a new one, the old
    // registration vanished with the close and MOD fails with ENOENT.
    if (l.watched.contains(fd) && ::epoll_ctl(epoll_.Get(), EPOLL_CTL_MOD, fd, &ev) == 0) continue;
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
      Log("epoll_ctl add task fd: " + std::string(std::strerror(errno)));
  }
  l.watched = want;
}

void Daemon::AfterTask(uint64_t serial) {
  auto it = live_.find(serial);
  if (it == live_.end()) return;
  Live& l = *it->second;
  if (l.task->finished() && !l.recorded) RecordFinish(l);
  if (!l.task->done()) return;
  for (int fd : l.watched) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, fd, nullptr);
  live_by_id_.erase(l.row.id);
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
  try {
    evidence = AddAdmissionToEvidence(l.task->EvidenceJson(), r);
  } catch (const std::exception& e) {
    // nlohmann::json refuses to print a string that is not UTF-8 (an argument, say).
    evidence = R"({"task_id":")" + r.id + R"(","error":"evidence record could not be written"})";
    Log("evidence of task " + r.id + ": " + e.what());
  }
  if (auto fin = store_->FinishTask(r.id, r.exit_code, r.failure_class, r.message, r.finished_unix_ms, evidence); !fin)
    Log("recording the end of task " + r.id + " failed: " + fin.error().Message());
  l.recorded = true;
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
  ConfigPaths cp{opts_.config_dir, opts_.runtime.data_dir, true, opts_.bpf_cache};
  auto cfg = LoadConfig(cp);
  if (!cfg) {
    Log("SIGHUP: reload failed, keeping the previous principals and policies: " + cfg.error().Message());
    return;
  }
  for (const auto& n : cfg->notes) Log("SIGHUP: " + n);
  config_ = std::make_shared<const Config>(std::move(*cfg));  // running tasks keep their own policy
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

}  // namespace

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
