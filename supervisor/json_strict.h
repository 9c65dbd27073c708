// supervisor/json_strict.h: JSON as Cordon's configuration files mean it. nlohmann::json alone keeps
// the last of two equal keys ({"version":1,"version":2} is version 2), accepts any nesting depth
// and any string. ParseStrictJson refuses, naming the JSON path:
//   - an object with the same key twice;
//   - nesting deeper than `max_depth` (objects and arrays);
//   - a key or string value that contains a NUL character (a C string would end there).
// Used by the policy parser and principals.json. No system calls; tests/unit/json_strict_test.cc.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cordon {

inline constexpr size_t kMaxJsonDepth = 32;

// `what` starts the error message ("policy /etc/cordon/policies/x.json"); `hint` becomes its hint.
Result<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& what, const std::string& hint,
                                       size_t max_depth = kMaxJsonDepth);

}  // namespace cordon
