// supervisor/seccomp/audit/disasm.h: `cordon seccomp disasm`, a classic-BPF seccomp program as
// readable instructions, with syscall names and seccomp return values spelled out.
//
// Supervisor side only, pure: decodes the struct sock_filter array that seccomp_export_bpf() writes
// (and `cordon seccomp compile -o` and `export --format bpf` produce).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace cordon::seccomp::audit {

struct Insn {
  uint32_t pc = 0;
  uint16_t code = 0;
  uint8_t jt = 0, jf = 0;
  uint32_t k = 0;
  std::string text;     // "ld  [4]", "jeq #0xc000003e, 3, 12", "ret ERRNO(EPERM)"
  std::string comment;  // "arch", "AUDIT_ARCH_X86_64", "socket", "args[0] (low)" …
};

// Refuses a byte count that is not a whole number of 8-byte instructions, an empty program and one
// longer than the kernel's BPF_MAXINSNS (4096), naming the cause.
Result<std::vector<Insn>> Disassemble(const std::vector<uint8_t>& bpf);
std::string RenderDisasmText(const std::vector<Insn>& prog);
std::string RenderDisasmJson(const std::vector<Insn>& prog);

}  // namespace cordon::seccomp::audit
