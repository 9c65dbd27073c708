// supervisor/seccomp/overlap.h: rule overlap analysis for the profile loader (profile.cc).
#pragma once

#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp {

// False only when the two rules provably match no common call: some argument both compare has no
// value that satisfies both. Exact for unmasked comparisons and for masked/masked and masked/EQ
// pairs; conservative (true) otherwise.
bool RulesMayOverlap(const Rule& a, const Rule& b);

// The same comparisons, in any order.
bool SameConditions(const Rule& a, const Rule& b);

}  // namespace cordon::seccomp
