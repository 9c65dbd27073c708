// supervisor/task/state_measure.h: a finished task's state bindings measured (the evidence's
// state_bytes_after): on a StateWalker's thread where the caller gives one (cordond: a large state
// tree must not hold the event loop), otherwise at once. One part of a running task (task.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bindings/grant.h"
#include "supervisor/state_walker.h"

namespace cordon {

class StateMeasure {
 public:
  void UseWalker(StateWalker* walker) { walker_ = walker; }
  // The sandbox is gone: measure the state bindings of `bindings` (may be null). Returns true when
  // the sizes are in already; otherwise the walk's fd (watch_fd()) fires when they are.
  // `task_id` names the task in the one line logged when the walker cannot take the walk.
  bool Begin(const std::shared_ptr<std::vector<OpenBinding>>& bindings, const std::string& task_id);
  // The walk's event fd while it runs, -1 otherwise.
  int watch_fd() const { return walk_ ? walk_->event_fd() : -1; }
  // watch_fd() fired: returns true once the sizes are in.
  bool OnReady();
  bool pending() const { return static_cast<bool>(walk_); }
  // Parallel to the bindings: a state binding's size, 0 for the others.
  const std::vector<uint64_t>& bytes_after() const { return bytes_after_; }

 private:
  StateWalker* walker_ = nullptr;
  std::shared_ptr<StateWalker::Walk> walk_;
  std::shared_ptr<std::vector<OpenBinding>> bindings_;
  std::vector<uint64_t> bytes_after_;
};

}  // namespace cordon
