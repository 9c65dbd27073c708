#include "common/proc_view.h"

#include <cstdio>
#include <utility>

namespace cordon::proc_view {
namespace {

// Calls `fn(line)` for each line of `text` (without its '\n').
template <class F>
void ForEachLine(std::string_view text, F fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

uint64_t ParseU64(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

void Append(std::string* out, std::string_view key, uint64_t value, bool kb) {
  char buf[128];
  std::string k(key);
  k += ':';
  snprintf(buf, sizeof buf, "%-16s%8llu%s\n", k.c_str(), static_cast<unsigned long long>(value), kb ? " kB" : "");
  *out += buf;
}

}  // namespace

std::string Meminfo(std::string_view host, uint64_t total_bytes) {
  uint64_t host_total_kb = 0;
  ForEachLine(host, [&](std::string_view line) {
    if (line.starts_with("MemTotal:")) host_total_kb = ParseU64(line.substr(9));
  });
  if (host_total_kb == 0) return "";
  uint64_t total_kb = total_bytes / 1024;
  if (total_kb == 0 || total_kb > host_total_kb) total_kb = host_total_kb;
  std::string out;
  ForEachLine(host, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return;
    std::string_view key = line.substr(0, colon), rest = line.substr(colon + 1);
    const bool kb = rest.ends_with("kB");
    uint64_t v = 0;
    if (key == "MemTotal" || key == "MemFree" || key == "MemAvailable") {
      v = total_kb;
    } else if (key == "Hugepagesize") {
      v = ParseU64(rest);
    }
    Append(&out, key, v, kb);
  });
  return out;
}

std::string Stat(unsigned ncpus, uint64_t btime) {
  std::string out = "cpu  0 0 0 0 0 0 0 0 0 0\n";
  char buf[96];
  for (unsigned i = 0; i < ncpus; ++i) {
    snprintf(buf, sizeof buf, "cpu%u 0 0 0 0 0 0 0 0 0 0\n", i);
    out += buf;
  }
  snprintf(buf, sizeof buf, "intr 0\nctxt 0\nbtime %llu\n", static_cast<unsigned long long>(btime));
  out += buf;
  out += "processes 0\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n";
  return out;
}

std::string Cpuinfo(std::string_view host, const std::vector<unsigned>& cpus) {
  // Blocks are separated by an empty line; each begins with "processor\t: N".
  std::vector<std::pair<unsigned, std::string_view>> blocks;
  while (!host.empty()) {
    size_t end = host.find("\n\n");
    std::string_view block = host.substr(0, end == std::string_view::npos ? host.size() : end + 1);
    if (block.starts_with("processor")) {
      size_t colon = block.find(':');
      if (colon != std::string_view::npos) blocks.emplace_back(static_cast<unsigned>(ParseU64(block.substr(colon + 1))), block);
    }
    if (end == std::string_view::npos) break;
    host.remove_prefix(end + 2);
  }
  std::string out;
  unsigned n = 0;
  for (unsigned cpu : cpus) {
    for (const auto& [num, block] : blocks) {
      if (num != cpu) continue;
      size_t nl = block.find('\n');
      char first[48];
      snprintf(first, sizeof first, "processor\t: %u", n++);
      out += first;
      out += block.substr(nl == std::string_view::npos ? block.size() : nl);
      if (!out.ends_with('\n')) out += '\n';
      out += '\n';
      break;
    }
  }
  return out;
}

uint64_t StatBtime(std::string_view host_stat) {
  uint64_t btime = 0;
  ForEachLine(host_stat, [&](std::string_view line) {
    if (line.starts_with("btime ")) btime = ParseU64(line.substr(6));
  });
  return btime;
}

}  // namespace cordon::proc_view
