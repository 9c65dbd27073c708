// supervisor/daemon/state_before.cc: a cold start's `state` bindings are measured before its
// task runs (state_bytes_before in its evidence, and the max_bytes check), a walk of two system
// calls per file. With the sync worker the walk runs on the state walker's thread while the
// sandbox is built, and the task is launched (held before its exec, as every cold start with the
// worker is) only once the sizes are in. Over quota, the sandbox is withdrawn before its task
// runs and the Submit refused as OpenBindings would have refused it (docs/daemon.md "The loop
// never waits").
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

std::vector<OpenBinding*> StateBindings(const TaskRequest& req) {
  std::vector<OpenBinding*> out;
  if (req.bindings)
    for (OpenBinding& ob : *req.bindings)
      if (ob.binding.kind == Binding::Kind::kState) out.push_back(&ob);
  return out;
}

}  // namespace

void Daemon::MeasureStateBefore(Live& l, std::shared_ptr<const Policy> policy) {
  const std::vector<OpenBinding*> state = StateBindings(l.launch_req);
  if (state.empty()) return;
  l.policy = std::move(policy);
  std::vector<int> dirs;
  for (const OpenBinding* ob : state) dirs.push_back(ob->fd.Get());
  auto walk = state_walker_.Measure(dirs);
  epoll_event ev{EPOLLIN, {.u64 = walk ? Token(l.serial, (*walk)->event_fd()) : 0}};
  if (walk && ::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, (*walk)->event_fd(), &ev) == 0) {
    l.state_walk = std::move(*walk);
    return;
  }
  // No eventfd to hear from the walker: measure here, as `cordon run` does.
  Log("task " + l.row.id + ": measuring its state on the loop (" +
      (walk ? std::string(std::strerror(errno)) : walk.error().Message()) + ")");
  for (OpenBinding* ob : state) {
    ob->state_bytes = DirectoryBytes(ob->fd.Get());
    if (auto q = CheckStateQuota(*ob, *l.policy); !q && l.refusal.empty())
      l.refusal = q.error().Message() + " (" + q.error().hint + ")";
  }
}

void Daemon::OnStateBefore(Live& l) {
  std::vector<uint64_t> sizes = l.state_walk->Take();
  if (sizes.empty()) return;  // not done yet (a spurious wake-up)
  const std::vector<OpenBinding*> state = StateBindings(l.launch_req);
  for (size_t i = 0; i < state.size() && i < sizes.size(); ++i) {
    state[i]->state_bytes = sizes[i];
    if (auto q = CheckStateQuota(*state[i], *l.policy); !q && l.refusal.empty())
      l.refusal = q.error().Message() + " (" + q.error().hint + ")";
  }
  EndStateWalk(l);
}

void Daemon::EndStateWalk(Live& l) {
  if (!l.state_walk) return;
  ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, l.state_walk->event_fd(), nullptr);
  l.state_walk.reset();  // a walk still running finishes on the walker's thread, unread
}

}  // namespace cordon::daemon::internal
