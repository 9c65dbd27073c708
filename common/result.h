// common/result.h: Result<T> = std::expected<T, Error>, used on both sides of the clone.
// Low-level code returns an Error and does not log; the one caller that handles it logs once.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace cordon {

struct Error {
  int err = 0;           // errno, or 0 when the failure is not a system call's
  std::string context;   // what was being done, e.g. "openat /proc/self/uid_map"
  std::string hint;      // what the user can do about it (may be empty)

  // "context: strerror(err)" — the one-line form every caller prints.
  std::string Message() const {
    std::string m = context;
    if (err != 0) {
      m += ": ";
      m += std::strerror(err);
    }
    return m;
  }
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> Fail(int err, std::string context, std::string hint = {}) {
  return std::unexpected(Error{err, std::move(context), std::move(hint)});
}
inline std::unexpected<Error> FailMsg(std::string context, std::string hint = {}) {
  return std::unexpected(Error{0, std::move(context), std::move(hint)});
}
// Prefixes what the caller was doing to an error coming up from below.
inline std::unexpected<Error> Wrap(Error e, const std::string& outer) {
  e.context = outer + ": " + e.context;
  return std::unexpected(std::move(e));
}

}  // namespace cordon

#define CORDON_CONCAT_INNER(a, b) a##b
#define CORDON_CONCAT(a, b) CORDON_CONCAT_INNER(a, b)

// Returns the error of a Result<void>/Result<T> expression to the caller.
#define CORDON_TRY(expr)                                                   \
  do {                                                                     \
    auto cordon_try_r_ = (expr);                                           \
    if (!cordon_try_r_) return std::unexpected(std::move(cordon_try_r_).error()); \
  } while (0)

// `CORDON_ASSIGN_OR_RETURN(UniqueFd fd, OpenThing());`
#define CORDON_ASSIGN_OR_RETURN(decl, expr) \
  CORDON_ASSIGN_OR_RETURN_IMPL(CORDON_CONCAT(cordon_aor_, __LINE__), decl, expr)
#define CORDON_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr)        \
  auto tmp = (expr);                                         \
  if (!tmp) return std::unexpected(std::move(tmp).error());  \
  decl = std::move(*tmp)
