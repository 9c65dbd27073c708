#include "supervisor/seccomp/audit/disasm.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

namespace cordon::seccomp::audit {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;
constexpr size_t kMaxInsns = 4096;  // BPF_MAXINSNS

std::string Hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// What a load from seccomp_data at `off` reads (struct seccomp_data, linux/seccomp.h).
std::string DataField(uint32_t off) {
  if (off == 0) return "nr";
  if (off == 4) return "arch";
  if (off == 8) return "instruction_pointer (low)";
  if (off == 12) return "instruction_pointer (high)";
  if (off >= 16 && off < 64) {
    const uint32_t i = (off - 16) / 8;
    return "args[" + std::to_string(i) + "]" + ((off - 16) % 8 == 0 ? " (low)" : " (high)");
  }
  return "?";
}

std::string ArchConst(uint32_t k) {
  switch (k) {
    case AUDIT_ARCH_X86_64: return "AUDIT_ARCH_X86_64";
    case AUDIT_ARCH_I386: return "AUDIT_ARCH_I386";
    case AUDIT_ARCH_AARCH64: return "AUDIT_ARCH_AARCH64";
    case AUDIT_ARCH_ARM: return "AUDIT_ARCH_ARM";
    default: return "";
  }
}

std::string NameOn(uint32_t arch, uint32_t nr) {
  uint32_t table = arch;
  if (arch == AUDIT_ARCH_X86_64 && nr >= kX32Bit) table = SCMP_ARCH_X32;
  char* n = seccomp_syscall_resolve_num_arch(table, static_cast<int>(nr));
  if (!n) return "";
  std::string s(n);
  std::free(n);
  return s;
}

std::string RetText(uint32_t k) {
  const uint32_t data = k & SECCOMP_RET_DATA;
  switch (k & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS: return "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD: return "KILL_THREAD";
    case SECCOMP_RET_TRAP: return "TRAP(" + std::to_string(data) + ")";
    case SECCOMP_RET_ERRNO: {
      const char* n = strerrorname_np(static_cast<int>(data));
      return "ERRNO(" + (n ? std::string(n) : std::to_string(data)) + ")";
    }
    case SECCOMP_RET_USER_NOTIF: return "USER_NOTIF";
    case SECCOMP_RET_TRACE: return "TRACE(" + std::to_string(data) + ")";
    case SECCOMP_RET_LOG: return "LOG";
    case SECCOMP_RET_ALLOW: return "ALLOW";
    default: return Hex(k);
  }
}

}  // namespace

Result<std::vector<Insn>> Disassemble(const std::vector<uint8_t>& bpf) {
  if (bpf.empty()) return FailMsg("empty BPF program", "give a file written by `cordon seccomp compile -o`");
  if (bpf.size() % sizeof(sock_filter) != 0) {
    return FailMsg("BPF program of " + std::to_string(bpf.size()) + " bytes is not a whole number of 8-byte instructions",
                   "give a raw struct sock_filter array (`cordon seccomp compile -o FILE`)");
  }
  if (bpf.size() / sizeof(sock_filter) > kMaxInsns) {
    return FailMsg("BPF program of " + std::to_string(bpf.size() / sizeof(sock_filter)) +
                   " instructions is longer than the kernel accepts (4096)");
  }
  std::vector<Insn> out;
  // The last comparison of the arch word decides how later syscall numbers are named.
  uint32_t arch = seccomp_arch_native();
  std::string loaded;  // the seccomp_data field in the accumulator, if known
  for (size_t i = 0; i < bpf.size() / sizeof(sock_filter); ++i) {
    sock_filter f;
    std::memcpy(&f, bpf.data() + i * sizeof f, sizeof f);
    Insn in{static_cast<uint32_t>(i), f.code, f.jt, f.jf, f.k, "", ""};
    const uint32_t cls = BPF_CLASS(f.code);
    auto target = [&](uint8_t off) { return std::to_string(i + 1 + off); };
    if (cls == BPF_LD && BPF_MODE(f.code) == BPF_ABS) {
      in.text = "ld  [" + std::to_string(f.k) + "]";
      loaded = DataField(f.k);
      in.comment = loaded;
    } else if (cls == BPF_LD && BPF_MODE(f.code) == BPF_IMM) {
      in.text = "ld  #" + Hex(f.k);
      loaded.clear();
    } else if (cls == BPF_LDX) {
      in.text = "ldx #" + Hex(f.k);
    } else if (cls == BPF_ST) {
      in.text = "st  M[" + std::to_string(f.k) + "]";
    } else if (cls == BPF_STX) {
      in.text = "stx M[" + std::to_string(f.k) + "]";
    } else if (cls == BPF_ALU) {
      static const char* kOps[] = {"add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor"};
      uint32_t op = BPF_OP(f.code) >> 4;
      in.text = std::string(op < std::size(kOps) ? kOps[op] : "alu?") + " " +
                (BPF_SRC(f.code) == BPF_X ? std::string("x") : "#" + Hex(f.k));
      loaded.clear();
    } else if (cls == BPF_JMP) {
      const uint32_t op = BPF_OP(f.code);
      if (op == BPF_JA) {
        in.text = "ja  " + std::to_string(i + 1 + f.k);
      } else {
        const char* name = op == BPF_JEQ ? "jeq" : op == BPF_JGT ? "jgt" : op == BPF_JGE ? "jge" : op == BPF_JSET ? "jset" : "j?";
        in.text = std::string(name) + " " + (BPF_SRC(f.code) == BPF_X ? std::string("x") : "#" + Hex(f.k)) + ", " +
                  target(f.jt) + ", " + target(f.jf);
        if (loaded == "arch") {
          in.comment = ArchConst(f.k);
          if (op == BPF_JEQ && !in.comment.empty()) arch = f.k;
        } else if (loaded == "nr") {
          if (op == BPF_JEQ) in.comment = NameOn(arch, f.k);
          if (op == BPF_JGE && f.k == kX32Bit) in.comment = "x32 syscall bit";
          if (op == BPF_JGT || op == BPF_JGE) in.comment += in.comment.empty() ? "nr bound" : "";
        } else if (!loaded.empty()) {
          in.comment = loaded;
        }
      }
    } else if (cls == BPF_RET) {
      in.text = "ret " + (BPF_RVAL(f.code) == BPF_K ? RetText(f.k) : std::string("a"));
    } else if (cls == BPF_MISC) {
      in.text = BPF_MISCOP(f.code) == BPF_TAX ? "tax" : "txa";
    } else {
      in.text = "??? code " + Hex(f.code);
    }
    out.push_back(std::move(in));
  }
  return out;
}

std::string RenderDisasmText(const std::vector<Insn>& prog) {
  std::string out;
  char buf[64];
  for (const auto& in : prog) {
    std::snprintf(buf, sizeof buf, "%04u: ", in.pc);
    std::string line = buf + in.text;
    if (!in.comment.empty()) {
      if (line.size() < 40) line.resize(40, ' ');
      line += " ; " + in.comment;
    }
    out += line + "\n";
  }
  out += std::to_string(prog.size()) + " instructions\n";
  return out;
}

std::string RenderDisasmJson(const std::vector<Insn>& prog) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& in : prog) {
    j.push_back({{"pc", in.pc}, {"code", in.code}, {"jt", in.jt}, {"jf", in.jf}, {"k", in.k},
                 {"text", in.text}, {"comment", in.comment}});
  }
  return nlohmann::ordered_json({{"instructions", j}}).dump() + "\n";
}

}  // namespace cordon::seccomp::audit
