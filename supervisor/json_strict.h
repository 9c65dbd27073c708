// supervisor/json_strict.h: JSON as Cordon's configuration files mean it. nlohmann::json alone keeps
// the last of two equal keys ({"version":1,"version":2} is version 2), accepts any nesting depth
// and any string. ParseStrictJson refuses, naming the JSON path:
//   - an object with the same key twice;
//   - nesting deeper than `max_depth` (objects and arrays);
//   - a key or string value that contains a NUL character (a C string would end there).
// JsonChecker then checks the parsed document's shape, naming the JSON path of the first problem.
// Used by the policy parser, principals.json and daemon.json. No system calls;
// tests/unit/json_strict_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon {

inline constexpr size_t kMaxJsonDepth = 32;

// `what` starts the error message ("policy /etc/cordon/policies/x.json"); `hint` becomes its hint.
Result<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& what, const std::string& hint,
                                       size_t max_depth = kMaxJsonDepth);

// Checks a parsed document field by field and keeps the first error, with its JSON path, so that
// a parser reads as straight-line validation: every check returns false once something is wrong,
// and error() says what ("<what>: <path>: <why>", hinted with `hint`).
class JsonChecker {
 public:
  // `what` starts every message ("policy /etc/cordon/policies/x.json"); `hint` is the errors' hint.
  JsonChecker(std::string what, std::string hint) : what_(std::move(what)), hint_(std::move(hint)) {}

  // Records `why` at `path` ("" is the top level) unless an error is recorded already; false.
  bool Bad(const std::string& path, const std::string& why);
  // An object whose keys are all in `known`.
  bool Object(const nlohmann::json& j, const std::string& path, std::initializer_list<const char*> known);
  // A string; unless `nonempty` is false, not "".
  bool String(const nlohmann::json& j, const std::string& path, std::string* out, bool nonempty = true);
  // An array of non-empty strings, appended to `out`.
  bool StringList(const nlohmann::json& j, const std::string& path, std::vector<std::string>* out);
  // An integer in [min, max]; with `zero_ok`, 0 too (a limit that is lifted).
  bool Uint(const nlohmann::json& j, const std::string& path, uint64_t* out, uint64_t min, uint64_t max,
            bool zero_ok = false);

  // "a.b" from "a" and "b"; "b" at the top level.
  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

  const std::optional<Error>& error() const { return error_; }
  // The error recorded, as a Result's failure (call once error() is set).
  std::unexpected<Error> Failure() const { return std::unexpected(*error_); }

 private:
  std::string what_, hint_;
  std::optional<Error> error_;
};

}  // namespace cordon
