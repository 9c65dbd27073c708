// supervisor/seccomp/overlap.cc: can two rules for the same syscall match the same call? The
// profile loader asks before it decides an ambiguity libseccomp would resolve silently.
#include "supervisor/seccomp/overlap.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

namespace cordon::seccomp {
namespace {

// Values an unmasked comparison accepts, as at most two closed intervals over uint64.
struct IntervalSet {
  std::vector<std::pair<uint64_t, uint64_t>> parts;
};

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

IntervalSet ToIntervals(const ArgCondition& c) {
  IntervalSet s;
  switch (c.op) {
    case CmpOp::kEq: s.parts = {{c.value, c.value}}; break;
    case CmpOp::kNe:
      if (c.value > 0) s.parts.push_back({0, c.value - 1});
      if (c.value < kMax) s.parts.push_back({c.value + 1, kMax});
      break;
    case CmpOp::kLt: if (c.value > 0) s.parts = {{0, c.value - 1}}; break;
    case CmpOp::kLe: s.parts = {{0, c.value}}; break;
    case CmpOp::kGt: if (c.value < kMax) s.parts = {{c.value + 1, kMax}}; break;
    case CmpOp::kGe: s.parts = {{c.value, kMax}}; break;
    case CmpOp::kMaskedEq:
      // Bounding interval of {x : x & m == v}: smallest member is v, largest v | ~m. Empty when v
      // has bits outside the mask (can never match).
      if ((c.value_two & ~c.value) == 0) s.parts = {{c.value_two, c.value_two | ~c.value}};
      break;
  }
  return s;
}

bool Intersect(const IntervalSet& a, const IntervalSet& b) {
  for (const auto& [alo, ahi] : a.parts) {
    for (const auto& [blo, bhi] : b.parts) {
      if (alo <= bhi && blo <= ahi) return true;
    }
  }
  return false;
}

// True unless the two comparisons on the same argument provably have no common value. Exact for
// every pair of unmasked ops and for masked/masked and masked/EQ; conservative otherwise.
bool ConditionsMayOverlap(const ArgCondition& a, const ArgCondition& b) {
  if (a.op == CmpOp::kMaskedEq && b.op == CmpOp::kMaskedEq) {
    if ((a.value_two & ~a.value) != 0 || (b.value_two & ~b.value) != 0) return false;
    uint64_t common = a.value & b.value;
    return (a.value_two & common) == (b.value_two & common);
  }
  if (a.op == CmpOp::kMaskedEq && b.op == CmpOp::kEq) return (b.value & a.value) == a.value_two;
  if (b.op == CmpOp::kMaskedEq && a.op == CmpOp::kEq) return (a.value & b.value) == b.value_two;
  return Intersect(ToIntervals(a), ToIntervals(b));
}

}  // namespace

bool RulesMayOverlap(const Rule& a, const Rule& b) {
  for (const auto& ca : a.conditions) {
    for (const auto& cb : b.conditions) {
      if (ca.index == cb.index && !ConditionsMayOverlap(ca, cb)) return false;
    }
  }
  return true;
}

bool SameConditions(const Rule& a, const Rule& b) {
  auto key = [](const Rule& r) {
    std::vector<std::tuple<uint32_t, CmpOp, uint64_t, uint64_t>> k;
    for (const auto& c : r.conditions) {
      k.emplace_back(c.index, c.op, c.value, c.op == CmpOp::kMaskedEq ? c.value_two : 0);
    }
    std::sort(k.begin(), k.end());
    return k;
  };
  return key(a) == key(b);
}

}  // namespace cordon::seccomp
