// common/fs_util.h: small filesystem helpers both binaries use. Exception-free (the shim links it).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon {

// Creates `path` (absolute) with `mode`, and any missing parent with `parent_mode`; existing
// directories are fine. Returns false with errno set on the first mkdir that fails otherwise.
bool MkdirAll(const std::string& path, mode_t mode, mode_t parent_mode = 0755);

// Creates the empty regular file `path` (a mount point for a file) and its missing parents; an
// existing file is fine, a symlink at `path` is not followed. Returns false with errno set.
bool TouchFile(const std::string& path);

// A memfd (CLOEXEC) holding `data`, sealed against writing, growing and shrinking, for a reader
// in another process that must see exactly these bytes.
Result<UniqueFd> SealedMemfd(const char* name, std::string_view data);

// Reads a whole file, refusing one larger than `max_bytes` (EFBIG): profiles, policies, /proc.
Result<std::string> ReadFileToString(const std::string& path, size_t max_bytes = 16u << 20);

}  // namespace cordon
