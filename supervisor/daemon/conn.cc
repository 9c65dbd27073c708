// supervisor/daemon/conn.cc: cordond's client connections: accept with limits per uid, reading
// and framing with backpressure, replies and their accounting, idle and read deadlines, and what
// a connection's end means for the tasks attached to it (docs/daemon.md "Limits per uid").
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

// Refused at accept: the reason goes out as a connection-level error (call_id 0), as far as the
// socket takes it without waiting, and the connection is closed.
void RefuseAtAccept(int fd, const std::string& why) {
  api::Response r;
  r.mutable_error()->set_code(api::ERROR_CODE_UNAVAILABLE);
  r.mutable_error()->set_message(why);
  std::string body;
  r.SerializeToString(&body);
  const std::string frame = EncodeFrame(body);
  (void)!::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

std::string Daemon::ConnLimit(const PeerCred& peer, bool principal) const {
  auto it = uid_usage_.find(peer.uid);
  const size_t mine = it == uid_usage_.end() ? 0 : it->second.conns;
  const std::string uid = "uid " + std::to_string(peer.uid);
  if (conns_.size() >= opts_.max_connections)
    return "cordond holds its limit of " + std::to_string(opts_.max_connections) +
           " connections (--max-connections); retry later";
  if (principal) {
    if (mine >= opts_.max_conns_per_uid)
      return uid + " holds " + std::to_string(mine) + " connections to cordond, the limit per uid (--max-conns-per-uid " +
             std::to_string(opts_.max_conns_per_uid) + "); close some, or make several calls on one connection";
    return "";
  }
  const std::string how = "; only an operator can raise it, by adding the uid to principals.json";
  if (mine >= opts_.max_conns_unknown)
    return uid + " is not a principal and holds " + std::to_string(mine) +
           " connections to cordond, the limit for such a uid (--max-conns-unknown " +
           std::to_string(opts_.max_conns_unknown) + ")" + how;
  if (unknown_conns_ >= opts_.max_connections / 4)
    return "uids that are not principals hold " + std::to_string(unknown_conns_) +
           " connections to cordond, their share of --max-connections (a quarter)" + how;
  return "";
}

void Daemon::Accept() {
  // A bounded batch per turn: a peer that connects in a loop does not keep the loop to itself.
  for (size_t i = 0; i < kAcceptsPerTurn; ++i) {
    int fd = ::accept4(listen_.Get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != ECONNABORTED) Log(std::string("accept: ") + std::strerror(errno));
      return;
    }
    UniqueFd sock(fd);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) continue;
    const PeerCred peer{cred.pid, cred.uid, cred.gid};
    const bool principal = FindPrincipal(config_->principals, peer.uid, peer.gid) != nullptr;
    if (std::string why = ConnLimit(peer, principal); !why.empty()) {
      RefuseAtAccept(fd, why);
      // One line per 10 s at most: a peer that retries in a loop must not flood the log.
      const uint64_t now = sys::MonotonicNs();
      ++refused_conns_;
      if (now >= refused_log_ns_) {
        Log("refused " + std::to_string(refused_conns_) + " connection(s), the last from pid " +
            std::to_string(peer.pid) + ": " + why);
        refused_conns_ = 0;
        refused_log_ns_ = now + 10'000'000'000ull;
      }
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->serial = next_serial_++;
    c->fd = std::move(sock);
    c->peer = peer;
    c->principal = principal;
    c->last_active_ns = sys::MonotonicNs();
    c->events = EPOLLIN;
    epoll_event ev{c->events, {.u64 = Token(c->serial, fd)}};
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, fd, &ev) < 0) continue;
    ++uid_usage_[peer.uid].conns;
    if (!principal) ++unknown_conns_;
    conns_[c->serial] = std::move(c);
  }
}

bool Daemon::MayRead(const Conn& c) const {
  if (c.read_closed || c.held >= kMaxHeldPerConn) return false;
  const size_t queued = c.out.size() - c.out_off;
  if (queued == 0) return true;  // a peer that reads its replies is never held back by others
  if (queued >= kPauseOutBytes || queued_total_ >= kTotalOutBytes) return false;
  auto it = uid_usage_.find(c.peer.uid);
  return it == uid_usage_.end() || it->second.queued < kUidOutBytes;
}

bool Daemon::Idle(const Conn& c) const {
  return c.waits == 0 && c.attached == 0 && c.held == 0 && !c.close_after_flush;
}

void Daemon::ReplyWhenDurable(Conn& c, api::Response resp) {
  if (!syncer_) return Reply(c, resp);
  held_replies_.push_back(HeldReply{syncer_->Request(), c.serial, std::move(resp)});
  ++c.held;
  UpdateEvents(c);
}

void Daemon::OnSynced() {
  for (const SyncWorker::Completion& done : syncer_->Collect()) {
    if (done.err != 0)
      Log("syncing admission decisions failed, their replies say so: " + std::string(std::strerror(done.err)));
    // Held pooled tasks first: their decision is on disk now, so they may exec (or, if the sync
    // failed, they are withdrawn before their exec, as a cold start would not have started).
    while (!held_releases_.empty() && held_releases_.front().first <= done.synced) {
      const uint64_t serial = held_releases_.front().second;
      held_releases_.pop_front();
      auto it = live_.find(serial);
      if (it == live_.end() || it->second->task->finished()) continue;
      Live& l = *it->second;
      if (done.err != 0) {
        l.task->Kill(FailureClass::kSetupFailed, "the admission decision could not be made durable (fdatasync: " +
                                                      std::string(std::strerror(done.err)) +
                                                      "), so the task was withdrawn before its exec");
      } else if (auto go = l.task->ReleaseExec(); !go) {
        Log("releasing a pooled task failed: " + go.error().Message());
      }
      SyncWatches(l);
      AfterTask(serial);
    }
    while (!held_replies_.empty() && held_replies_.front().ticket <= done.synced) {
      HeldReply h = std::move(held_replies_.front());
      held_replies_.pop_front();
      auto it = conns_.find(h.conn);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      if (c.held > 0) --c.held;
      if (done.err != 0) {
        h.resp.clear_result();
        h.resp.mutable_error()->set_code(api::ERROR_CODE_INTERNAL);
        h.resp.mutable_error()->set_message("cordond could not make the admission decision durable: fdatasync: " +
                                            std::string(std::strerror(done.err)));
      }
      const uint64_t serial = c.serial;
      Reply(c, h.resp);
      if (auto again = conns_.find(serial); again != conns_.end()) {
        UpdateEvents(*again->second);
        MaybeClose(*again->second);
      }
    }
  }
}

void Daemon::Account(Conn& c) {
  const size_t now = c.out.size() - c.out_off;
  UidUsage& u = uid_usage_[c.peer.uid];
  u.queued = u.queued - c.accounted + now;
  queued_total_ = queued_total_ - c.accounted + now;
  c.accounted = now;
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
  // Frames already buffered go first (their turn comes from the backlog), and a peer that does
  // not read its replies is not read either: its requests wait in its own socket.
  if (!(events & EPOLLIN) || !MayRead(c) || backlog_.contains(serial)) return;
  char buf[kRecvChunk];
  auto got = RecvMsg(c.fd.Get(), buf, sizeof buf, kMaxPendingFds, MSG_DONTWAIT);
  if (!got) {
    if (got.error().err == EAGAIN || got.error().err == EINTR) return;
    FailAndClose(c, api::ERROR_CODE_MALFORMED, got.error().Message());
    return;
  }
  c.last_active_ns = sys::MonotonicNs();
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
  HandleFrames(c);
}

void Daemon::HandleFrames(Conn& c) {
  const uint64_t serial = c.serial;
  backlog_.erase(serial);
  std::string payload;
  bool need_more = false;
  for (size_t n = 0; MayRead(c); ++n) {
    const auto spent = submits_this_turn_.find(c.peer.uid);
    if (n == kFramesPerTurn || frame_budget_ == 0 ||
        (spent != submits_this_turn_.end() && spent->second >= kSubmitsPerUidPerTurn)) {
      if (c.decoder.Ready()) {
        backlog_.insert(serial);  // the rest after the other events
      } else {
        need_more = true;  // a partial frame keeps its read deadline
      }
      break;
    }
    auto st = c.decoder.Next(&payload);
    if (st == FrameDecoder::Status::kNeedMore) {
      need_more = true;
      break;
    }
    if (st == FrameDecoder::Status::kTooLarge) {
      FailAndClose(c, api::ERROR_CODE_TOO_LARGE, "frame length exceeds " + std::to_string(kMaxFrameBytes) + " bytes");
      return;
    }
    --frame_budget_;
    HandleFrame(c, payload);
    if (!conns_.contains(serial) || c.read_closed) return;
  }
  if (!c.decoder.MidFrame()) {
    c.deadline_ns = 0;
    c.fds.clear();  // sent with frames that did not claim them
  } else if (!need_more) {
    c.deadline_ns = 0;  // whole frames wait for their turn: not a slow sender
  } else if (c.deadline_ns == 0) {
    c.deadline_ns = sys::MonotonicNs() + opts_.read_timeout_ms * 1'000'000ull;
  }
  UpdateEvents(c);
}

void Daemon::ResumeConns() {
  std::vector<uint64_t> turn(backlog_.begin(), backlog_.end());
  for (uint64_t s : turn) {
    if (frame_budget_ == 0) break;  // the rest in the next turn, after the tasks' events
    auto it = conns_.find(s);
    if (it == conns_.end()) {
      backlog_.erase(s);
      continue;
    }
    try {
      HandleFrames(*it->second);
    } catch (const std::exception& e) {
      Log(std::string("internal error handling a frame: ") + e.what());
      CloseConn(s);
    }
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
    case api::Request::kMetrics: return HandleMetrics(c, req.call_id());
    case api::Request::kSessionList: case api::Request::kSessionShow: case api::Request::kSessionMark:
    case api::Request::kSessionBudget: case api::Request::kEnvelopeShow: return HandleSessionCall(c, req);
    case api::Request::kFreeze:  // governance (wip/govb): operator_calls.cc
    case api::Request::kThaw:
    case api::Request::kKillScope:
    case api::Request::kGovernanceState:
    case api::Request::kBreakers:
    case api::Request::kBreakerMode: return HandleGovernance(c, req);
    case api::Request::kApprovalList:  // approvals (wip/govc): approval_calls.cc
    case api::Request::kApprovalDecide:
    case api::Request::kApprovalWait: return HandleApprovalCall(c, req);
    case api::Request::kSuspensions:  // auto-suspend (wip/govc): suspend_calls.cc
    case api::Request::kResume: return HandleSuspendCall(c, req);
    case api::Request::kTokenVerify: return HandleTokenVerify(c, req.call_id(), req.token_verify());  // tokens.cc
    case api::Request::kTokenKeys: return HandleTokenKeys(c, req.call_id());
    case api::Request::kTokenMint: return HandleTokenMint(c, req.call_id(), req.token_mint());
    case api::Request::kEvidenceKey: return HandleEvidenceKey(c, req.call_id());  // evidence_log.cc
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
    Log("dropping connection of pid " + std::to_string(c.peer.pid) + " uid " + std::to_string(c.peer.uid) +
        ": it does not read its replies (" + std::to_string(c.out.size() - c.out_off) + " bytes queued)");
    CloseConn(c.serial);
    return;
  }
  c.out += EncodeFrame(body);
  Account(c);
  Flush(c);
}

void Daemon::ReplyError(Conn& c, uint64_t call_id, api::ErrorCode code, const std::string& msg) {
  api::Response r;
  r.set_call_id(call_id);
  r.mutable_error()->set_code(code);
  r.mutable_error()->set_message(msg);
  SetRetry(r.mutable_error(), code);
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
  const size_t before = c.out_off;
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
  if (c.out_off != before) c.last_active_ns = sys::MonotonicNs();
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off > (1u << 20) && c.out_off * 2 > c.out.size()) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  Account(c);
  UpdateEvents(c);
  MaybeClose(c);
}

void Daemon::UpdateEvents(Conn& c) {
  const bool may_read = MayRead(c);
  // Whole frames left in the buffer when the connection was paused are handled once it may read.
  if (may_read && c.decoder.Ready()) backlog_.insert(c.serial);
  uint32_t want = (may_read ? uint32_t{EPOLLIN} : 0u) | (c.out.empty() ? 0u : uint32_t{EPOLLOUT});
  if (want == c.events) return;
  epoll_event ev{want, {.u64 = Token(c.serial, c.fd.Get())}};
  ::epoll_ctl(epoll_.Get(), EPOLL_CTL_MOD, c.fd.Get(), &ev);
  c.events = want;
}

void Daemon::MaybeClose(Conn& c) {
  if (!c.out.empty() || c.held > 0) return;
  if (c.close_after_flush || (c.read_closed && c.waits == 0 && c.attached == 0)) CloseConn(c.serial);
}

void Daemon::CloseConn(uint64_t serial) {
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, c.fd.Get(), nullptr);
  c.out.clear();
  c.out_off = 0;
  Account(c);
  if (auto u = uid_usage_.find(c.peer.uid); u != uid_usage_.end()) {
    if (u->second.conns > 0) --u->second.conns;
    if (u->second.conns == 0 && u->second.queued == 0) uid_usage_.erase(u);
  }
  if (!c.principal && unknown_conns_ > 0) --unknown_conns_;
  const bool attached = c.attached > 0;
  backlog_.erase(serial);
  conns_.erase(it);
  if (attached) KillAttached(serial);
}

void Daemon::KillForGoneClient(Live& l) {
  l.attached_conn = 0;
  if (l.task->finished()) return;
  // The caller's end of the task is gone: nobody gets its output or its exit code. A task that
  // must outlive its caller is submitted with --detach (docs/daemon.md "When a client goes").
  l.task->Kill(FailureClass::kClientGone,
               "the client that submitted this task attached (its stdio) closed its connection before the task "
               "ended, so the task was killed; submit with --detach for a task that must outlive its client");
  Log("task " + l.row.id + ": its attached client is gone, killed");
  SyncWatches(l);
}

void Daemon::KillAttached(uint64_t conn_serial) {
  std::vector<uint64_t> serials;
  for (auto& [s, l] : live_)
    if (l->attached_conn == conn_serial) serials.push_back(s);
  for (uint64_t s : serials) {
    Live& l = *live_.at(s);
    KillForGoneClient(l);
  }
}

}  // namespace cordon::daemon::internal
