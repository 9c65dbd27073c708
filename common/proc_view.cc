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

std::string Meminfo(uint64_t host_total_bytes, uint64_t budget_bytes) {
  // The keys of a 6.x x86_64 kernel that programs parse (procps free/top/vmstat, psutil, JVMs),
  // in the kernel's order (fs/proc/meminfo.c); "kB" unless noted.
  static constexpr struct {
    const char* key;
    bool kb;
  } kKeys[] = {{"MemTotal", true},        {"MemFree", true},        {"MemAvailable", true},
               {"Buffers", true},         {"Cached", true},         {"SwapCached", true},
               {"Active", true},          {"Inactive", true},       {"Active(anon)", true},
               {"Inactive(anon)", true},  {"Active(file)", true},   {"Inactive(file)", true},
               {"Unevictable", true},     {"Mlocked", true},        {"SwapTotal", true},
               {"SwapFree", true},        {"Dirty", true},          {"Writeback", true},
               {"AnonPages", true},       {"Mapped", true},         {"Shmem", true},
               {"KReclaimable", true},    {"Slab", true},           {"SReclaimable", true},
               {"SUnreclaim", true},      {"KernelStack", true},    {"PageTables", true},
               {"CommitLimit", true},     {"Committed_AS", true},   {"VmallocTotal", true},
               {"VmallocUsed", true},     {"VmallocChunk", true},   {"Percpu", true},
               {"HugePages_Total", false}, {"HugePages_Free", false}, {"HugePages_Rsvd", false},
               {"HugePages_Surp", false}, {"Hugepagesize", true},   {"Hugetlb", true}};
  uint64_t total_kb = budget_bytes / 1024;
  if (total_kb == 0 || budget_bytes > host_total_bytes) total_kb = host_total_bytes / 1024;
  std::string out;
  out.reserve(1200);
  for (const auto& k : kKeys) {
    uint64_t v = 0;
    const std::string_view key = k.key;
    if (key == "MemTotal" || key == "MemFree" || key == "MemAvailable") v = total_kb;
    if (key == "Hugepagesize") v = 2048;  // x86_64's default huge page; the sandbox has no hugetlbfs
    Append(&out, key, v, k.kb);
  }
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
