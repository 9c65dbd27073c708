// supervisor/evidence/secret_values.h: the values of a binding marked "secret" in its policy
// (docs/evidence.md "Secret bindings"), read by cordond so that redaction tier (a) replaces them,
// by exact value, in everything it stores. A file binding holds one file; a dir binding its
// regular files at the top level (a symlink among them is followed only beneath the directory, as
// Kubernetes' secret volumes link each key into ..data/).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/bindings/grant.h"

namespace cordon::evlog {

inline constexpr size_t kSecretFileMaxBytes = 64 * 1024;  // a larger file is credentials' neighbour, not one
inline constexpr size_t kSecretDirMaxFiles = 64;

struct SecretValues {
  std::vector<std::string> values;  // each at least 6 bytes (Redactor::AddSecret's minimum)
  std::vector<std::string> notes;   // what was not read or is too short to redact, one line each
};

// The values in one file's bytes: the whole content without surrounding white space, each of its
// lines the same way, and of a `NAME=VALUE` or `NAME: VALUE` line the value (a .env file's).
// Values shorter than 6 bytes are left out with a note naming `what`.
void SecretValuesOf(std::string_view content, const std::string& what, SecretValues* out);

// A secret binding's values, read through its open fd (what the task gets: a file is read with
// pread from offset 0; a dir's files through openat2 RESOLVE_BENEATH). Nothing for a binding that
// is not secret.
SecretValues ReadSecretBinding(const OpenBinding& b);
// The same by the binding's host path (cordond at policy load, before any task opened it); a
// binding from the caller has no path and gives nothing here.
SecretValues ReadSecretBindingAt(const Binding& b);

}  // namespace cordon::evlog
