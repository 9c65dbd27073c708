// supervisor/seccomp/audit/decide.h: a profile's decision function sampled where it can change.
//
// Supervisor side only, pure. The audit commands (lint, explain, diff) need "what does the profile do
// to syscall S on ABI A, for every argument region". A rule's conditions split each argument's 64-bit
// range at a few points (the compared value, one either side, the masked bits), so evaluating the
// profile at those boundary values, and at every combination of them across the arguments that are
// compared, visits every region where the decision is constant. Evaluate() (compiler.h) decides each.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp::audit {

using Args = std::array<uint64_t, 6>;

// The ABIs a task on this machine can call through. On x86_64: x86_64, x32 (nr | 0x40000000), i386
// (int 0x80). Elsewhere: the native one only.
struct Abi {
  std::string name;    // "x86_64", "x32", "i386"
  uint32_t audit_arch; // AUDIT_ARCH_* as seccomp_data.arch carries it
  bool x32 = false;    // numbers carry the x32 bit on the x86_64 audit arch
};
std::vector<Abi> KnownAbis();
// "x86_64" | "x32" | "i386" -> the Abi; nullopt for other names.
std::optional<Abi> FindAbi(std::string_view name);
// The syscall number of `name` on `abi` (x32 numbers with the x32 bit set), or nullopt when the
// ABI has no such call.
std::optional<int> NumberOn(const Abi& abi, std::string_view name);
// Every syscall name libseccomp knows on `abi`, sorted.
std::vector<std::string> NamesOn(const Abi& abi);

// Argument vectors that reach every region of the decision function of `syscall`, considering the
// conditions of the rules for it in every profile given. Always contains the all-zero vector first.
// Capped at `limit` vectors: past it, each compared argument is varied alone with the others at 0.
std::vector<Args> SamplePoints(const std::vector<const Profile*>& profiles, std::string_view syscall,
                               size_t limit = 4096);

// What a task of `abi` gets for syscall `name` with `args`. `runtime_semantics`: as runc/crun
// compile the profile (every listed architecture accepted); otherwise as Cordon does (native only).
Decision Decide(const Profile& p, const Abi& abi, std::string_view name, const Args& args,
                bool runtime_semantics);

// Allow-like actions: the call runs (ALLOW, LOG).
bool Runs(const Decision& d);
// "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO(EPERM)", "SCMP_ACT_TRACE(0)", "SCMP_ACT_KILL_PROCESS (architecture)".
std::string Outcome(const Decision& d);
// "args[0] & 0x7e020000 == 0", "args[1] == 0x5412"
std::string ConditionText(const ArgCondition& c);
// The same with the argument named `arg` ("args[1]", kafel's "a1"); `kafel_form` writes what a kafel
// policy needs: every value in hex ("0x0") and a masked compare as "(a0 & 0x7e020000) == 0x0".
std::string ConditionText(const ArgCondition& c, const std::string& arg, bool kafel_form);
// "args[0] == 1 && args[2] != 0", or "always" for no conditions.
std::string ConditionsText(const std::vector<ArgCondition>& cs);

}  // namespace cordon::seccomp::audit
