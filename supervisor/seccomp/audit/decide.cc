#include "supervisor/seccomp/audit/decide.h"

#include <seccomp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace cordon::seccomp::audit {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;
// Past the highest syscall number of any ABI libseccomp 2.5 knows; NamesOn() scans below it.
constexpr int kScanLimit = 1024;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, v < 10 ? "%llu" : "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The values of one argument where some condition on it changes its truth.
void AddBoundaries(const ArgCondition& c, std::set<uint64_t>* out) {
  if (c.op == CmpOp::kMaskedEq) {
    // (arg & mask) == want: true at `want`; false with any mask bit flipped; other bits do not matter
    // but are visited once (want | ~mask) so "high bits set" regions are seen too.
    out->insert(c.value_two);
    out->insert(c.value_two | ~c.value);
    for (int b = 0; b < 64; ++b) {
      const uint64_t bit = uint64_t{1} << b;
      if (c.value & bit) out->insert(c.value_two ^ bit);
    }
    return;
  }
  out->insert(c.value);
  if (c.value > 0) out->insert(c.value - 1);
  if (c.value < UINT64_MAX) out->insert(c.value + 1);
}

// A partly chosen argument value: the bits fixed so far and their values.
struct Partial {
  uint64_t known = 0;
  uint64_t value = 0;
};

// Makes `c` false on `v` if the bits still free allow it; returns false when `c` is forced true.
// Only bit-pattern comparisons (MASKED_EQ, EQ) are steered here: ranges are covered by AddBoundaries.
bool Falsify(const ArgCondition& c, Partial* v) {
  uint64_t mask = c.op == CmpOp::kMaskedEq ? c.value : ~uint64_t{0};
  uint64_t want = c.op == CmpOp::kMaskedEq ? c.value_two : c.value;
  if (c.op != CmpOp::kMaskedEq && c.op != CmpOp::kEq) return true;
  if (((v->value ^ want) & mask & v->known) != 0) return true;  // already differs on a fixed bit
  const uint64_t free = mask & ~v->known;
  if (free == 0) return false;
  const uint64_t bit = free & (~free + 1);  // lowest free bit of the mask
  v->known |= bit;
  v->value = (v->value & ~bit) | (~want & bit);
  return true;
}

// Makes `c` true on `v` (fixing its bits), or returns false if the fixed bits forbid it.
bool Satisfy(const ArgCondition& c, Partial* v) {
  if (c.op != CmpOp::kMaskedEq && c.op != CmpOp::kEq) return false;
  uint64_t mask = c.op == CmpOp::kMaskedEq ? c.value : ~uint64_t{0};
  uint64_t want = c.op == CmpOp::kMaskedEq ? c.value_two : c.value;
  if (((v->value ^ want) & mask & v->known) != 0) return false;
  v->known |= mask;
  v->value = (v->value & ~mask) | (want & mask);
  return true;
}

// Boundary values alone miss the regions carved by several bit-pattern rules on one argument (an
// ioctl allowlist of 30 masked rules denies 0x5412 only where every rule is false at once). For
// those, choose bits greedily: one value where every condition is false, and for each condition
// one value where it holds and the others are false as far as the bits allow. Free bits are
// tried as all-zero and all-one.
void AddBitPatterns(const std::vector<ArgCondition>& conds, std::set<uint64_t>* out) {
  auto emit = [&](const Partial& p) {
    out->insert(p.value);
    out->insert(p.value | ~p.known);
  };
  Partial none;
  for (const auto& c : conds) Falsify(c, &none);
  emit(none);
  for (size_t k = 0; k < conds.size(); ++k) {
    Partial p;
    if (!Satisfy(conds[k], &p)) continue;
    for (size_t o = 0; o < conds.size(); ++o)
      if (o != k) Falsify(conds[o], &p);
    emit(p);
  }
}

}  // namespace

std::vector<Abi> KnownAbis() {
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
    return {{"x86_64", SCMP_ARCH_X86_64, false}, {"x32", SCMP_ARCH_X86_64, true}, {"i386", SCMP_ARCH_X86, false}};
  }
  const char* n = seccomp_arch_native() == SCMP_ARCH_AARCH64 ? "aarch64" : "native";
  return {{n, seccomp_arch_native(), false}};
}

std::optional<Abi> FindAbi(std::string_view name) {
  for (auto& a : KnownAbis())
    if (a.name == name) return a;
  return std::nullopt;
}

std::optional<int> NumberOn(const Abi& abi, std::string_view name) {
  const uint32_t table = abi.x32 ? SCMP_ARCH_X32 : abi.audit_arch;
  int nr = seccomp_syscall_resolve_name_arch(table, std::string(name).c_str());
  if (nr < 0) return std::nullopt;
  // libseccomp's x32 table already carries the x32 bit; make sure of it.
  if (abi.x32) nr = static_cast<int>(static_cast<uint32_t>(nr) | kX32Bit);
  return nr;
}

std::vector<std::string> NamesOn(const Abi& abi) {
  std::set<std::string> names;
  const uint32_t table = abi.x32 ? SCMP_ARCH_X32 : abi.audit_arch;
  for (int nr = 0; nr < kScanLimit; ++nr) {
    int q = abi.x32 ? static_cast<int>(static_cast<uint32_t>(nr) | kX32Bit) : nr;
    char* n = seccomp_syscall_resolve_num_arch(table, q);
    if (!n) continue;
    names.insert(n);
    std::free(n);
  }
  return {names.begin(), names.end()};
}

std::vector<Args> SamplePoints(const std::vector<const Profile*>& profiles, std::string_view syscall, size_t limit) {
  std::map<uint32_t, std::set<uint64_t>> per_index;
  std::map<uint32_t, std::vector<ArgCondition>> conds;
  for (const Profile* p : profiles) {
    for (const auto& r : p->rules) {
      if (r.syscall != syscall) continue;
      for (const auto& c : r.conditions) {
        auto& s = per_index[c.index];
        s.insert(0);
        AddBoundaries(c, &s);
        conds[c.index].push_back(c);
      }
    }
  }
  for (const auto& [i, cs] : conds) AddBitPatterns(cs, &per_index[i]);
  std::vector<Args> out{Args{}};
  size_t product = 1;
  for (const auto& [i, vals] : per_index) product = product > limit ? product : product * vals.size();
  if (product <= limit) {
    for (const auto& [i, vals] : per_index) {
      std::vector<Args> next;
      for (const Args& a : out) {
        for (uint64_t v : vals) {
          Args b = a;
          b[i] = v;
          next.push_back(b);
        }
      }
      out = std::move(next);
    }
  } else {
    for (const auto& [i, vals] : per_index) {
      for (uint64_t v : vals) {
        Args b{};
        b[i] = v;
        out.push_back(b);
      }
    }
  }
  // Keep the all-zero vector first and each vector once.
  std::set<Args> seen;
  std::vector<Args> uniq;
  for (const Args& a : out)
    if (seen.insert(a).second) uniq.push_back(a);
  std::stable_partition(uniq.begin(), uniq.end(), [](const Args& a) { return a == Args{}; });
  return uniq;
}

Decision Decide(const Profile& p, const Abi& abi, std::string_view name, const Args& args, bool runtime_semantics) {
  auto nr = NumberOn(abi, name);
  if (!nr) return {p.default_action, p.default_errno, "defaultAction", false};
  CompileOptions co;
  co.allow_foreign_arches = runtime_semantics;
  return Evaluate(p, abi.audit_arch, *nr, args.data(), co);
}

bool Runs(const Decision& d) { return d.action == Action::kAllow || d.action == Action::kLog; }

std::string Outcome(const Decision& d) {
  std::string s(ActionName(d.action));
  if (d.action == Action::kErrno || d.action == Action::kTrace) {
    const char* en = d.action == Action::kErrno ? strerrorname_np(d.errno_ret) : nullptr;
    s += "(" + (en ? std::string(en) : std::to_string(d.errno_ret)) + ")";
  }
  if (d.rule_path == "architecture") s += " (architecture)";
  return s;
}

std::string ConditionText(const ArgCondition& c) {
  return ConditionText(c, "args[" + std::to_string(c.index) + "]", false);
}

std::string ConditionText(const ArgCondition& c, const std::string& a, bool kafel_form) {
  auto hex = [kafel_form](uint64_t v) {
    if (!kafel_form) return Hex(v);
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return std::string(buf);
  };
  switch (c.op) {
    case CmpOp::kNe: return a + " != " + hex(c.value);
    case CmpOp::kLt: return a + " < " + hex(c.value);
    case CmpOp::kLe: return a + " <= " + hex(c.value);
    case CmpOp::kEq: return a + " == " + hex(c.value);
    case CmpOp::kGe: return a + " >= " + hex(c.value);
    case CmpOp::kGt: return a + " > " + hex(c.value);
    case CmpOp::kMaskedEq:
      if (kafel_form) return "(" + a + " & " + hex(c.value) + ") == " + hex(c.value_two);
      return a + " & " + hex(c.value) + " == " + hex(c.value_two);
  }
  return a;
}

std::string ConditionsText(const std::vector<ArgCondition>& cs) {
  if (cs.empty()) return "always";
  std::string s;
  for (const auto& c : cs) s += (s.empty() ? "" : " && ") + ConditionText(c);
  return s;
}

}  // namespace cordon::seccomp::audit
