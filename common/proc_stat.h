// common/proc_stat.h: fields of a /proc/<pid>/stat line (proc(5)). Pure; shared by cordond's
// restart recovery (start time) and the supervisor's rootless budget monitor (CPU times, threads,
// resident pages).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cordon {

// Field `field` (1-based, as proc(5) numbers them; 3 = state and later) of a stat line. The comm
// field (2) may hold spaces and parentheses, so fields are counted after the last ')'.
inline std::optional<std::string_view> ProcStatField(std::string_view stat, int field) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || field < 3) return std::nullopt;
  size_t pos = close + 1;
  for (int f = 3;; ++f) {
    while (pos < stat.size() && stat[pos] == ' ') ++pos;
    size_t end = pos;
    while (end < stat.size() && stat[end] != ' ' && stat[end] != '\n') ++end;
    if (pos >= end) return std::nullopt;
    if (f == field) return stat.substr(pos, end - pos);
    pos = end;
  }
}

// The same field as an unsigned number; nullopt when it is missing or not one.
inline std::optional<uint64_t> ProcStatU64(std::string_view stat, int field) {
  auto tok = ProcStatField(stat, field);
  if (!tok) return std::nullopt;
  uint64_t v = 0;
  auto r = std::from_chars(tok->data(), tok->data() + tok->size(), v);
  if (r.ec != std::errc() || r.ptr != tok->data() + tok->size()) return std::nullopt;
  return v;
}

}  // namespace cordon
