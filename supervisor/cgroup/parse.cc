// supervisor/cgroup/parse.cc: cgroupfs text parsers. Formats are the kernel's, as documented in
// Documentation/admin-guide/cgroup-v2.rst ("Format" and each controller's interface files) and
// Documentation/admin-guide/cgroup-v1/{memory,cpuacct,pids,freezer-subsystem,blkio-controller}.rst.
#include "supervisor/cgroup/parse.h"

#include <charconv>
#include <utility>

namespace cordon::cgroup {
namespace {

// Walks the text line by line with 1-based numbers; the kernel ends every line with '\n', but a
// missing final newline (hand-edited fixture) is tolerated. Blank lines are skipped.
class Lines {
 public:
  explicit Lines(std::string_view text) : rest_(text) {}
  bool Next(std::string_view& line) {
    while (!rest_.empty()) {
      size_t nl = rest_.find('\n');
      line = rest_.substr(0, nl);
      rest_ = nl == std::string_view::npos ? std::string_view{} : rest_.substr(nl + 1);
      ++number_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!Trim(line).empty()) {
        line = Trim(line);
        return true;
      }
    }
    return false;
  }
  int number() const { return number_; }

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

 private:
  std::string_view rest_;
  int number_ = 0;
};

std::unexpected<Error> Bad(std::string_view file, int line, std::string_view what) {
  std::string m(file);
  m += ':';
  m += std::to_string(line);
  m += ": ";
  m += what;
  return FailMsg(std::move(m));
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string q = "\"";
  q += s.substr(0, kMax);
  if (s.size() > kMax) q += "…";
  q += '"';
  return q;
}

bool ToU64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ToU32(std::string_view s, uint32_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ToDouble(std::string_view s, double& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::fixed);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits off the next space-separated word.
std::string_view NextWord(std::string_view& s) {
  s = Lines::Trim(s);
  size_t sp = s.find_first_of(" \t");
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : Lines::Trim(s.substr(sp));
  return w;
}

// Looks up a key that must be present in a keyed file.
Result<uint64_t> Require(const FlatKeyed& m, std::string_view key, std::string_view file) {
  auto it = m.find(key);
  if (it == m.end()) return FailMsg(std::string(file) + ": missing key \"" + std::string(key) + "\"");
  return it->second;
}

std::optional<uint64_t> Optional(const FlatKeyed& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

// "MAJ:MIN" → numbers.
bool ParseDevice(std::string_view s, uint32_t& major, uint32_t& minor) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  return ToU32(s.substr(0, colon), major) && ToU32(s.substr(colon + 1), minor);
}

}  // namespace

Result<uint64_t> ParseSingleValue(std::string_view text, std::string_view file) {
  Lines lines(text);
  std::string_view line;
  if (!lines.Next(line)) return Bad(file, 1, "empty file, expected a number");
  uint64_t v = 0;
  if (!ToU64(line, v)) return Bad(file, lines.number(), "expected an unsigned number, got " + Quote(line));
  if (lines.Next(line)) return Bad(file, lines.number(), "unexpected extra line " + Quote(line));
  return v;
}

Result<std::optional<uint64_t>> ParseMax(std::string_view text, std::string_view file) {
  Lines lines(text);
  std::string_view line;
  if (!lines.Next(line)) return Bad(file, 1, "empty file, expected \"max\" or a number");
  std::optional<uint64_t> out;
  if (line != "max") {
    uint64_t v = 0;
    if (!ToU64(line, v)) return Bad(file, lines.number(), "expected \"max\" or a number, got " + Quote(line));
    out = v;
  }
  if (lines.Next(line)) return Bad(file, lines.number(), "unexpected extra line " + Quote(line));
  return out;
}

Result<FlatKeyed> ParseFlatKeyed(std::string_view text, std::string_view file) {
  FlatKeyed out;
  Lines lines(text);
  std::string_view line;
  while (lines.Next(line)) {
    std::string_view rest = line;
    std::string_view key = NextWord(rest);
    std::string_view value = NextWord(rest);
    uint64_t v = 0;
    if (value.empty() || !rest.empty() || !ToU64(value, v)) {
      return Bad(file, lines.number(), "expected \"key number\", got " + Quote(line));
    }
    if (!out.emplace(std::string(key), v).second) {
      return Bad(file, lines.number(), "duplicate key " + Quote(key));
    }
  }
  return out;
}

Result<CpuStat> ParseCpuStat(std::string_view text, std::string_view file) {
  CORDON_ASSIGN_OR_RETURN(FlatKeyed m, ParseFlatKeyed(text, file));
  CpuStat s;
  CORDON_ASSIGN_OR_RETURN(s.usage_usec, Require(m, "usage_usec", file));
  CORDON_ASSIGN_OR_RETURN(s.user_usec, Require(m, "user_usec", file));
  CORDON_ASSIGN_OR_RETURN(s.system_usec, Require(m, "system_usec", file));
  s.nr_periods = Optional(m, "nr_periods");
  s.nr_throttled = Optional(m, "nr_throttled");
  s.throttled_usec = Optional(m, "throttled_usec");
  return s;
}

Result<MemoryEvents> ParseMemoryEvents(std::string_view text, std::string_view file) {
  CORDON_ASSIGN_OR_RETURN(FlatKeyed m, ParseFlatKeyed(text, file));
  MemoryEvents e;
  CORDON_ASSIGN_OR_RETURN(e.low, Require(m, "low", file));
  CORDON_ASSIGN_OR_RETURN(e.high, Require(m, "high", file));
  CORDON_ASSIGN_OR_RETURN(e.max, Require(m, "max", file));
  CORDON_ASSIGN_OR_RETURN(e.oom, Require(m, "oom", file));
  CORDON_ASSIGN_OR_RETURN(e.oom_kill, Require(m, "oom_kill", file));
  e.oom_group_kill = Optional(m, "oom_group_kill");
  return e;
}

Result<PidsEvents> ParsePidsEvents(std::string_view text, std::string_view file) {
  CORDON_ASSIGN_OR_RETURN(FlatKeyed m, ParseFlatKeyed(text, file));
  PidsEvents e;
  CORDON_ASSIGN_OR_RETURN(e.max, Require(m, "max", file));
  return e;
}

Result<std::vector<IoStatEntry>> ParseIoStat(std::string_view text, std::string_view file) {
  std::vector<IoStatEntry> out;
  Lines lines(text);
  std::string_view line;
  while (lines.Next(line)) {
    std::string_view rest = line;
    IoStatEntry e;
    if (!ParseDevice(NextWord(rest), e.major, e.minor)) {
      return Bad(file, lines.number(), "expected \"MAJ:MIN key=value…\", got " + Quote(line));
    }
    while (!rest.empty()) {
      std::string_view kv = NextWord(rest);
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return Bad(file, lines.number(), "expected key=value, got " + Quote(kv));
      std::string_view key = kv.substr(0, eq);
      std::string_view value = kv.substr(eq + 1);
      uint64_t* slot = key == "rbytes"   ? &e.rbytes
                       : key == "wbytes" ? &e.wbytes
                       : key == "rios"   ? &e.rios
                       : key == "wios"   ? &e.wios
                       : key == "dbytes" ? &e.dbytes
                       : key == "dios"   ? &e.dios
                                         : nullptr;
      // io.cost adds non-integer keys (cost.usage=…); only the six counters must be numbers.
      if (slot != nullptr && !ToU64(value, *slot)) {
        return Bad(file, lines.number(), "bad number in " + Quote(kv));
      }
    }
    out.push_back(e);
  }
  return out;
}

Result<Pressure> ParsePressure(std::string_view text, std::string_view file) {
  Pressure p;
  Lines lines(text);
  std::string_view line;
  while (lines.Next(line)) {
    std::string_view rest = line;
    std::string_view kind = NextWord(rest);
    std::optional<PressureLine>* slot = kind == "some" ? &p.some : kind == "full" ? &p.full : nullptr;
    if (slot == nullptr) return Bad(file, lines.number(), "expected \"some\" or \"full\", got " + Quote(line));
    PressureLine pl;
    int seen = 0;
    while (!rest.empty()) {
      std::string_view kv = NextWord(rest);
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return Bad(file, lines.number(), "expected key=value, got " + Quote(kv));
      std::string_view key = kv.substr(0, eq);
      std::string_view value = kv.substr(eq + 1);
      bool ok = true;
      if (key == "avg10") {
        ok = ToDouble(value, pl.avg10);
        seen |= 1;
      } else if (key == "avg60") {
        ok = ToDouble(value, pl.avg60);
        seen |= 2;
      } else if (key == "avg300") {
        ok = ToDouble(value, pl.avg300);
        seen |= 4;
      } else if (key == "total") {
        ok = ToU64(value, pl.total_usec);
        seen |= 8;
      }
      if (!ok) return Bad(file, lines.number(), "bad number in " + Quote(kv));
    }
    if (seen != 15) return Bad(file, lines.number(), "expected avg10, avg60, avg300 and total in " + Quote(line));
    if (slot->has_value()) return Bad(file, lines.number(), "duplicate " + Quote(kind) + " line");
    *slot = pl;
  }
  if (!p.some) return Bad(file, lines.number(), "missing \"some\" line");
  return p;
}

Result<CgroupEvents> ParseCgroupEvents(std::string_view text, std::string_view file) {
  CORDON_ASSIGN_OR_RETURN(FlatKeyed m, ParseFlatKeyed(text, file));
  CgroupEvents e;
  CORDON_ASSIGN_OR_RETURN(uint64_t populated, Require(m, "populated", file));
  e.populated = populated != 0;
  // "frozen" arrived with cgroup.freeze (5.2); absent means not frozen.
  e.frozen = Optional(m, "frozen").value_or(0) != 0;
  return e;
}

std::vector<std::string> ParseControllerList(std::string_view text) {
  std::vector<std::string> out;
  std::string_view rest = text;
  while (true) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n' || rest.front() == '\t')) rest.remove_prefix(1);
    if (rest.empty()) break;
    size_t end = rest.find_first_of(" \t\n");
    out.emplace_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  return out;
}

Result<std::vector<int>> ParsePidList(std::string_view text, std::string_view file) {
  std::vector<int> out;
  Lines lines(text);
  std::string_view line;
  while (lines.Next(line)) {
    uint64_t v = 0;
    if (!ToU64(line, v) || v == 0 || v > 0x3fffffff) {
      return Bad(file, lines.number(), "expected a pid, got " + Quote(line));
    }
    out.push_back(static_cast<int>(v));
  }
  return out;
}

Result<OomControl> ParseOomControl(std::string_view text, std::string_view file) {
  CORDON_ASSIGN_OR_RETURN(FlatKeyed m, ParseFlatKeyed(text, file));
  OomControl c;
  CORDON_ASSIGN_OR_RETURN(uint64_t disable, Require(m, "oom_kill_disable", file));
  CORDON_ASSIGN_OR_RETURN(uint64_t under, Require(m, "under_oom", file));
  c.oom_kill_disable = disable != 0;
  c.under_oom = under != 0;
  c.oom_kill = Optional(m, "oom_kill");
  return c;
}

Result<CpuTimes> ParseCpuacctStat(std::string_view text, std::string_view file, long clk_tck) {
  if (clk_tck <= 0) return FailMsg(std::string(file) + ": invalid USER_HZ " + std::to_string(clk_tck));
  CORDON_ASSIGN_OR_RETURN(FlatKeyed m, ParseFlatKeyed(text, file));
  CORDON_ASSIGN_OR_RETURN(uint64_t user, Require(m, "user", file));
  CORDON_ASSIGN_OR_RETURN(uint64_t system, Require(m, "system", file));
  const uint64_t hz = static_cast<uint64_t>(clk_tck);
  // ticks * 1e6 / hz without overflow for any realistic tick count (2^64 / 1e6 ticks ≈ 58k years at 100 Hz).
  return CpuTimes{user / hz * 1'000'000 + user % hz * 1'000'000 / hz,
                  system / hz * 1'000'000 + system % hz * 1'000'000 / hz};
}

Result<FreezerState> ParseFreezerState(std::string_view text, std::string_view file) {
  Lines lines(text);
  std::string_view line;
  if (!lines.Next(line)) return Bad(file, 1, "empty file, expected THAWED/FREEZING/FROZEN");
  FreezerState s;
  if (line == "THAWED") {
    s = FreezerState::kThawed;
  } else if (line == "FREEZING") {
    s = FreezerState::kFreezing;
  } else if (line == "FROZEN") {
    s = FreezerState::kFrozen;
  } else {
    return Bad(file, lines.number(), "expected THAWED/FREEZING/FROZEN, got " + Quote(line));
  }
  if (lines.Next(line)) return Bad(file, lines.number(), "unexpected extra line " + Quote(line));
  return s;
}

Result<BlkioBytes> ParseBlkioServiceBytes(std::string_view text, std::string_view file) {
  BlkioBytes b;
  Lines lines(text);
  std::string_view line;
  std::string_view last_device;
  while (lines.Next(line)) {
    std::string_view rest = line;
    std::string_view first = NextWord(rest);
    uint64_t v = 0;
    if (first == "Total") {
      std::string_view n = NextWord(rest);
      if (!ToU64(n, v) || !rest.empty()) return Bad(file, lines.number(), "expected \"Total N\", got " + Quote(line));
      b.total = v;
      continue;
    }
    uint32_t major = 0;
    uint32_t minor = 0;
    std::string_view op = NextWord(rest);
    std::string_view n = NextWord(rest);
    if (!ParseDevice(first, major, minor) || op.empty() || !ToU64(n, v) || !rest.empty()) {
      return Bad(file, lines.number(), "expected \"MAJ:MIN Op N\", got " + Quote(line));
    }
    if (first != last_device) {
      ++b.devices;
      last_device = first;
    }
    if (op == "Read") b.read += v;
    if (op == "Write") b.write += v;
  }
  return b;
}

}  // namespace cordon::cgroup
