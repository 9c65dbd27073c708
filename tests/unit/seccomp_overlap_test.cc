// Rule overlap analysis: the profile loader trusts a "cannot overlap" answer to leave two rules
// with different actions unordered, so a false "no" would let libseccomp's order decide silently.
#include "supervisor/seccomp/overlap.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace cordon::seccomp {
namespace {

Rule With(std::initializer_list<ArgCondition> conditions) {
  Rule r;
  r.syscall = "ioctl";
  r.conditions = conditions;
  return r;
}

ArgCondition Cmp(uint32_t index, CmpOp op, uint64_t value, uint64_t value_two = 0) {
  ArgCondition c;
  c.index = index;
  c.op = op;
  c.value = value;
  c.value_two = value_two;
  return c;
}

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(SeccompOverlap, DisjointComparisonsOnOneArgumentDoNotOverlap) {
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(1, CmpOp::kEq, 5)}), With({Cmp(1, CmpOp::kNe, 5)})));
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(1, CmpOp::kLt, 5)}), With({Cmp(1, CmpOp::kGe, 5)})));
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(1, CmpOp::kLe, 5)}), With({Cmp(1, CmpOp::kGt, 5)})));
  // Nothing is below 0 or above the largest value.
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(0, CmpOp::kLt, 0)}), With({Cmp(0, CmpOp::kGe, 0)})));
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(0, CmpOp::kGt, kMax)}), With({Cmp(0, CmpOp::kLe, kMax)})));
}

TEST(SeccompOverlap, ComparisonsSharingAValueOverlap) {
  EXPECT_TRUE(RulesMayOverlap(With({Cmp(1, CmpOp::kLe, 5)}), With({Cmp(1, CmpOp::kGe, 5)})));
  EXPECT_TRUE(RulesMayOverlap(With({Cmp(1, CmpOp::kNe, 5)}), With({Cmp(1, CmpOp::kNe, 6)})));
  EXPECT_TRUE(RulesMayOverlap(With({Cmp(1, CmpOp::kEq, 7)}), With({Cmp(1, CmpOp::kGt, 6)})));
}

TEST(SeccompOverlap, DifferentArgumentsOrNoConditionsAlwaysMayOverlap) {
  EXPECT_TRUE(RulesMayOverlap(With({Cmp(0, CmpOp::kEq, 1)}), With({Cmp(1, CmpOp::kEq, 2)})));
  EXPECT_TRUE(RulesMayOverlap(With({}), With({Cmp(1, CmpOp::kEq, 2)})));
  // One disjoint argument is enough to keep two multi-argument rules apart.
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(0, CmpOp::kEq, 1), Cmp(1, CmpOp::kEq, 2)}),
                               With({Cmp(0, CmpOp::kEq, 1), Cmp(1, CmpOp::kEq, 3)})));
}

TEST(SeccompOverlap, MaskedComparisonsAreExactAgainstEachOtherAndEquality) {
  // x & 0xff == 0x10 and x & 0xf0 == 0x20 disagree on bits 4..7.
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(2, CmpOp::kMaskedEq, 0xff, 0x10)}),
                               With({Cmp(2, CmpOp::kMaskedEq, 0xf0, 0x20)})));
  // x & 0x0f == 0x01 and x & 0xf0 == 0x20 share no bit: 0x21 satisfies both.
  EXPECT_TRUE(RulesMayOverlap(With({Cmp(2, CmpOp::kMaskedEq, 0x0f, 0x01)}),
                              With({Cmp(2, CmpOp::kMaskedEq, 0xf0, 0x20)})));
  EXPECT_TRUE(RulesMayOverlap(With({Cmp(2, CmpOp::kMaskedEq, 0xff, 0x10)}), With({Cmp(2, CmpOp::kEq, 0x110)})));
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(2, CmpOp::kMaskedEq, 0xff, 0x10)}), With({Cmp(2, CmpOp::kEq, 0x11)})));
  // A masked value with bits outside its mask can never match, so it overlaps nothing.
  EXPECT_FALSE(RulesMayOverlap(With({Cmp(2, CmpOp::kMaskedEq, 0x0f, 0x10)}),
                               With({Cmp(2, CmpOp::kMaskedEq, 0xff, 0x10)})));
}

TEST(SeccompOverlap, SameConditionsIgnoresOrderButNotValues) {
  EXPECT_TRUE(SameConditions(With({Cmp(0, CmpOp::kEq, 1), Cmp(1, CmpOp::kEq, 2)}),
                             With({Cmp(1, CmpOp::kEq, 2), Cmp(0, CmpOp::kEq, 1)})));
  EXPECT_FALSE(SameConditions(With({Cmp(0, CmpOp::kEq, 1)}), With({Cmp(0, CmpOp::kEq, 2)})));
  EXPECT_FALSE(SameConditions(With({Cmp(0, CmpOp::kEq, 1)}), With({Cmp(0, CmpOp::kNe, 1)})));
  // value_two counts only for masked comparisons.
  EXPECT_TRUE(SameConditions(With({Cmp(0, CmpOp::kEq, 1, 7)}), With({Cmp(0, CmpOp::kEq, 1, 9)})));
  EXPECT_FALSE(SameConditions(With({Cmp(0, CmpOp::kMaskedEq, 1, 1)}), With({Cmp(0, CmpOp::kMaskedEq, 1, 0)})));
}

}  // namespace
}  // namespace cordon::seccomp
