// shim/read_memfd.h: reads a memfd the supervisor sent (launch spec, BPF, task part) whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shim/failure.h"

namespace cordon::shim {

// Reads all of `fd` (at most `max` bytes) with pread from offset 0. On failure fills `f` with
// `step` and a message naming `what`, and returns false.
bool ReadMemfd(int fd, std::vector<uint8_t>* out, size_t max, SetupStep step, const char* what, Failure* f);

}  // namespace cordon::shim
