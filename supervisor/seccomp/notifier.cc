// supervisor/seccomp/notifier.cc: the seccomp notification thread (see the header).
#include "supervisor/seccomp/notifier.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/syscalls.h"
#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/proc_status.h"
#include "supervisor/seccomp/profile.h"
#include "supervisor/seccomp/thread_control.h"
#include "supervisor/seccomp/filter.h"

// COMPAT(kernel headers < 6.6): SECCOMP_IOCTL_NOTIF_SET_FLAGS and its one flag.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace cordon::seccomp {
namespace {

// After a kill signal, how long the notification may stay valid before SIGKILL follows.
constexpr uint64_t kKillCheckNs = 100'000'000;
constexpr size_t kMaxNotes = 8;

bool IdValid(int listener, uint64_t id) { return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

uint64_t CacheKey(uint32_t arch, int nr) { return (static_cast<uint64_t>(arch) << 32) | static_cast<uint32_t>(nr); }

}  // namespace

struct Notifier::Watch {
  uint64_t serial = 0;
  std::mutex mu;  // held by the thread while it handles one notification of this watch
  bool closed = false;
  UniqueFd listener;
  UniqueFd sandbox;  // the shim's pidfd: kill the whole sandbox as a last resort
  std::shared_ptr<const SeccompFilter> filter;
  std::shared_ptr<const Profile> profile;  // from filter->ParsedProfile() on first use
  std::unordered_map<uint64_t, Decision> decisions;  // (arch, nr) -> decision, when args do not matter
  DenialLog log;
  std::unordered_map<std::string, size_t> index;   // "arch/nr/rule" -> log.denied index
  std::unordered_set<std::string> omitted;          // keys past the cap
  struct PendingKill {
    uint64_t id;
    uint64_t deadline;
    UniqueFd pidfd;
  };
  std::vector<PendingKill> pending;

  void Note(std::string s) {
    if (log.notes.size() < kMaxNotes) log.notes.push_back(std::move(s));
  }
};

struct Notifier::Impl {
  std::mutex mu;  // registry
  std::unordered_map<uint64_t, std::shared_ptr<Watch>> watches;
  uint64_t next_serial = 1;
  UniqueFd epoll;
  std::thread thread;
  bool any_pending = false;  // some watch has a kill to check (the thread's own flag)

  void Loop();
  void Serve(Watch& w);
  Decision Decide(Watch& w, const seccomp_notif& req);
  Denial* Record(Watch& w, const seccomp_notif& req, const Decision& d, uint64_t now);
  void KillProcess(Watch& w, const seccomp_notif& req, const Denial& rec);
  void LastResort(Watch& w, const seccomp_notif& req, const std::string& why);
  void CheckPending(Watch& w, uint64_t now);
};

Notifier& Notifier::Shared() {
  // Never destroyed: the thread may be blocked in epoll_wait when the process exits.
  static Notifier* n = [] {
    auto* x = new Notifier();
    x->impl_ = new Impl();
    x->impl_->epoll.Reset(::epoll_create1(EPOLL_CLOEXEC));
    // The thread takes no signals: block everything around its creation so it inherits a full
    // mask (a SIGINT meant for `cordon run`'s signalfd must not land here).
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
      x->impl_->thread = std::thread([impl = x->impl_] { impl->Loop(); });
      x->impl_->thread.detach();
    } catch (const std::system_error&) {
      x->impl_->epoll.Reset();  // Add() then fails with a message instead of nobody answering
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return x;
  }();
  return *n;
}

Result<std::shared_ptr<Notifier::Watch>> Notifier::Add(UniqueFd listener, std::shared_ptr<const SeccompFilter> filter,
                                                       int sandbox_pidfd) {
  if (!impl_->epoll) return FailMsg("the seccomp notifier thread could not start (epoll_create1 or thread creation failed)");
  auto w = std::make_shared<Watch>();
  w->filter = std::move(filter);
  if (sandbox_pidfd >= 0) w->sandbox.Reset(::fcntl(sandbox_pidfd, F_DUPFD_CLOEXEC, 3));
  // The task that calls wakes this thread on its own CPU, and we wake it back the same way (6.6+;
  // older kernels refuse the ioctl and keep the normal wake-up).
  uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
  (void)::ioctl(listener.Get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags);
  w->listener = std::move(listener);
  std::lock_guard lk(impl_->mu);
  w->serial = impl_->next_serial++;
  epoll_event ev{EPOLLIN, {.u64 = w->serial}};
  if (::epoll_ctl(impl_->epoll.Get(), EPOLL_CTL_ADD, w->listener.Get(), &ev) < 0)
    return Fail(errno, "epoll_ctl seccomp listener");
  impl_->watches.emplace(w->serial, w);
  return w;
}

DenialLog Notifier::Remove(const std::shared_ptr<Watch>& w) {
  if (!w) return {};
  {
    std::lock_guard lk(impl_->mu);
    impl_->watches.erase(w->serial);
  }
  std::lock_guard lk(w->mu);
  if (w->closed) return {};
  w->closed = true;
  if (w->listener) (void)::epoll_ctl(impl_->epoll.Get(), EPOLL_CTL_DEL, w->listener.Get(), nullptr);
  w->listener.Reset();
  w->pending.clear();
  return std::move(w->log);
}

void Notifier::Impl::Loop() {
  epoll_event evs[16];
  for (;;) {
    // Wake for the earliest kill check, if any.
    int timeout = -1;
    std::vector<std::shared_ptr<Watch>> with_pending;
    if (any_pending) {
      std::lock_guard lk(mu);
      for (auto& [serial, w] : watches) {
        std::lock_guard wl(w->mu);
        if (w->pending.empty()) continue;
        with_pending.push_back(w);
        uint64_t now = sys::MonotonicNs();
        for (const auto& p : w->pending) {
          int ms = p.deadline <= now ? 0 : static_cast<int>((p.deadline - now) / 1'000'000 + 1);
          if (timeout < 0 || ms < timeout) timeout = ms;
        }
      }
      any_pending = !with_pending.empty();
    }
    int n = ::epoll_wait(epoll.Get(), evs, 16, timeout);
    if (n < 0 && errno != EINTR) return;  // the epoll fd is gone: nothing left to serve
    for (int i = 0; i < n; ++i) {
      std::shared_ptr<Watch> w;
      {
        std::lock_guard lk(mu);
        auto it = watches.find(evs[i].data.u64);
        if (it != watches.end()) w = it->second;
      }
      if (!w) continue;
      std::lock_guard wl(w->mu);
      if (w->closed) continue;
      if (evs[i].events & EPOLLIN) {
        Serve(*w);
      } else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
        // No task uses the filter any more: stop watching (Remove() still returns the record).
        (void)::epoll_ctl(epoll.Get(), EPOLL_CTL_DEL, w->listener.Get(), nullptr);
      }
    }
    for (auto& w : with_pending) {
      std::lock_guard wl(w->mu);
      if (!w->closed) CheckPending(*w, sys::MonotonicNs());
    }
  }
}

Decision Notifier::Impl::Decide(Watch& w, const seccomp_notif& req) {
  const uint64_t key = CacheKey(req.data.arch, req.data.nr);
  if (auto it = w.decisions.find(key); it != w.decisions.end()) return it->second;
  if (!w.profile) w.profile = w.filter->ParsedProfile();
  if (!w.profile) {
    // The text parsed when the filter was compiled; if it no longer does, deny without a rule.
    return {Action::kErrno, EPERM, "unknown (the profile could not be parsed again)"};
  }
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
  Decision d = Evaluate(*w.profile, req.data.arch, req.data.nr, args);
  if (!d.args_matter) w.decisions.emplace(key, d);
  return d;
}

Denial* Notifier::Impl::Record(Watch& w, const seccomp_notif& req, const Decision& d, uint64_t now) {
  ++w.log.total;
  std::string key = std::to_string(req.data.arch) + "/" + std::to_string(req.data.nr) + "/" + d.rule_path;
  if (auto it = w.index.find(key); it != w.index.end()) {
    Denial& r = w.log.denied[it->second];
    ++r.count;
    return &r;
  }
  if (w.log.denied.size() >= kMaxDenialEntries) {
    ++w.log.omitted_calls;
    if (w.omitted.insert(std::move(key)).second) ++w.log.omitted_entries;
    return nullptr;
  }
  Denial r;
  r.nr = req.data.nr;
  r.arch = ArchName(req.data.arch, req.data.nr);
  r.name = SyscallNameForArch(req.data.arch, req.data.nr).value_or("syscall_" + std::to_string(req.data.nr));
  r.action = std::string(ActionName(d.action));
  r.has_errno = d.action == Action::kErrno;
  r.errno_ret = r.has_errno ? d.errno_ret : 0;
  r.rule = d.rule_path;
  r.first_ns = now;
  r.count = 1;
  for (int i = 0; i < 6; ++i) r.args[i] = req.data.args[i];
  w.index.emplace(std::move(key), w.log.denied.size());
  w.log.denied.push_back(std::move(r));
  return &w.log.denied.back();
}

void Notifier::Impl::Serve(Watch& w) {
  seccomp_notif req;
  std::memset(&req, 0, sizeof req);
  if (::ioctl(w.listener.Get(), SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
    // ENOENT: the caller died between the wake-up and now. Anything else: the fd is unusable.
    if (errno != ENOENT && errno != EINTR) (void)::epoll_ctl(epoll.Get(), EPOLL_CTL_DEL, w.listener.Get(), nullptr);
    return;
  }
  const uint64_t now = sys::MonotonicNs();
  const Decision d = Decide(w, req);
  Denial* rec = Record(w, req, d, now);
  // A record past the cap still names the call in a kill message.
  Denial scratch;
  if (!rec) {
    scratch.nr = req.data.nr;
    scratch.arch = ArchName(req.data.arch, req.data.nr);
    scratch.name = SyscallNameForArch(req.data.arch, req.data.nr).value_or("syscall_" + std::to_string(req.data.nr));
    scratch.action = std::string(ActionName(d.action));
    scratch.rule = d.rule_path;
    scratch.first_ns = now;
    rec = &scratch;
  }

  seccomp_notif_resp resp;
  std::memset(&resp, 0, sizeof resp);
  resp.id = req.id;
  switch (d.action) {
    case Action::kErrno:
      // errnoRet 0 is success without running the call, as runc/crun and the native filter give.
      resp.error = -d.errno_ret;
      resp.val = 0;
      (void)::ioctl(w.listener.Get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
      return;
    case Action::kKillProcess:
      KillProcess(w, req, *rec);
      return;
    case Action::kKillThread: {
      auto st = ReadThreadStatus(static_cast<pid_t>(req.pid));
      if (st && st->threads > 1) {
        // The thread leaves by exit(2), which passes the filter again: only if the profile allows it.
        uint64_t zero[6] = {};
        auto exit_nr = SyscallNumber("exit");
        Action ea = exit_nr && w.profile ? Evaluate(*w.profile, NativeAuditArch(), *exit_nr, zero).action : Action::kErrno;
        if (ea == Action::kAllow || ea == Action::kLog) {
          auto ended = EndThread(static_cast<pid_t>(req.pid), w.listener.Get(), req.id, 128 + SIGSYS);
          if (ended) return;
          if (ended.error().err == ENOENT) return;  // the thread is gone already
          w.Note("KILL_THREAD of " + rec->name + ": could not end the thread alone (" + ended.error().Message() +
                 "); the process was killed instead");
        } else {
          w.Note("KILL_THREAD of " + rec->name + ": the profile does not allow exit, so the thread cannot end "
                 "alone; the process was killed instead");
        }
      }
      KillProcess(w, req, *rec);
      return;
    }
    case Action::kTrap: {
      auto st = ReadThreadStatus(static_cast<pid_t>(req.pid));
      if (st && st->Catches(SIGSYS) && !st->Blocks(SIGSYS) && !st->Ignores(SIGSYS)) {
        auto t = DeliverTrap(st->tgid, static_cast<pid_t>(req.pid), w.listener.Get(), req.id, req.data.nr,
                             req.data.arch, 0);
        if (t || t.error().err == ENOENT) return;
        w.Note("TRAP of " + rec->name + ": could not deliver SIGSYS to the handler (" + t.error().Message() +
               "); the process was killed instead");
      }
      // No handler (or blocked/ignored, which the kernel's forced SIGSYS overrides): the trap ends
      // the process by SIGSYS.
      KillProcess(w, req, *rec);
      return;
    }
    default:
      // ALLOW/LOG/TRACE/NOTIFY are never compiled to a notification; if one arrives, deny it.
      resp.error = -EPERM;
      (void)::ioctl(w.listener.Get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
      return;
  }
}

void Notifier::Impl::KillProcess(Watch& w, const seccomp_notif& req, const Denial& rec) {
  CallerKill k = KillCaller(w.listener.Get(), req.id, static_cast<pid_t>(req.pid));
  if (k.outcome == CallerKill::Outcome::kGone) return;
  if (k.outcome == CallerKill::Outcome::kFailed) {
    LastResort(w, req, k.error);
    return;
  }
  if (k.signal == SIGKILL) w.Note(rec.name + ": the process catches, ignores or blocks SIGSYS; it was killed by SIGKILL");
  if (!w.log.fatal) {
    w.log.fatal = rec;
    w.log.fatal_signal = k.signal;
  }
  w.pending.push_back({req.id, sys::MonotonicNs() + kKillCheckNs, std::move(k.pidfd)});
  any_pending = true;
}

void Notifier::Impl::LastResort(Watch& w, const seccomp_notif& req, const std::string& why) {
  w.Note("kill of the caller failed (" + why + "); the call was answered EPERM and the sandbox killed");
  seccomp_notif_resp resp;
  std::memset(&resp, 0, sizeof resp);
  resp.id = req.id;
  resp.error = -EPERM;
  (void)::ioctl(w.listener.Get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
  if (w.sandbox) sys::PidfdSendSignal(w.sandbox.Get(), SIGKILL);
}

void Notifier::Impl::CheckPending(Watch& w, uint64_t now) {
  for (size_t i = 0; i < w.pending.size();) {
    auto& p = w.pending[i];
    if (!IdValid(w.listener.Get(), p.id)) {
      w.pending.erase(w.pending.begin() + static_cast<long>(i));
      continue;
    }
    if (now >= p.deadline) {
      // Still in the call after the signal (a handler installed meanwhile): SIGKILL, once.
      sys::PidfdSendSignal(p.pidfd.Get(), SIGKILL);
      w.Note("a killed process was still in its call after " + std::to_string(kKillCheckNs / 1'000'000) +
             " ms; SIGKILL followed");
      w.pending.erase(w.pending.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
}

}  // namespace cordon::seccomp
