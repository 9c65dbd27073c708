// supervisor/task/state_measure.cc: measuring a finished task's state bindings.
#include "supervisor/task/state_measure.h"

#include <unistd.h>

#include <cstdio>

namespace cordon {

bool StateMeasure::Begin(const std::shared_ptr<std::vector<OpenBinding>>& bindings, const std::string& task_id) {
  bindings_ = bindings;
  std::vector<int> state_dirs;
  if (bindings_)
    for (const auto& b : *bindings_)
      if (b.binding.kind == Binding::Kind::kState) state_dirs.push_back(b.fd.Get());
  if (walker_ && !state_dirs.empty()) {
    if (auto w = walker_->Measure(state_dirs); w) {
      walk_ = std::move(*w);
      return false;
    } else {
      std::fprintf(stderr, "cordon: measuring task %s's state off the loop failed, measuring it now: %s\n",
                   task_id.c_str(), w.error().Message().c_str());
    }
  }
  if (bindings_)
    for (const auto& b : *bindings_)
      bytes_after_.push_back(b.binding.kind == Binding::Kind::kState ? DirectoryBytes(b.fd.Get()) : 0);
  return true;
}

bool StateMeasure::OnReady() {
  uint64_t n;
  if (::read(walk_->event_fd(), &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return false;  // not yet
  std::vector<uint64_t> sizes = walk_->Take();
  walk_.reset();
  size_t next = 0;
  for (const auto& b : *bindings_) {
    const bool state = b.binding.kind == Binding::Kind::kState;
    bytes_after_.push_back(state && next < sizes.size() ? sizes[next] : 0);
    if (state) ++next;
  }
  return true;
}

}  // namespace cordon
