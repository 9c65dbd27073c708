#include "supervisor/cli/seccomp.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/setup_step.h"
#include "supervisor/cli/report.h"
#include "supervisor/cli/seccomp_audit.h"
#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/profile.h"
#include "supervisor/seccomp/filter.h"

namespace cordon {
namespace {

constexpr const char* kUsage =
    "Usage: cordon seccomp compile PROFILE [-o FILE] [--pfc] [--notify] [--strict]\n"
    "       cordon seccomp check PROFILE SYSCALL [ARG0 [ARG1 ...]] [--strict]\n"
    "       cordon seccomp lint|explain|diff|disasm|groups|export|record ...  (cordon seccomp lint --help)\n"
    "\n"
    "PROFILE is a shipped profile name (default, strict) or a path to an OCI/Docker seccomp JSON file.\n"
    "Profiles are resolved for a task with no capabilities on this kernel and architecture.\n"
    "\n"
    "compile   Compile to BPF. -o FILE writes the raw sock_filter array; --pfc prints libseccomp's\n"
    "          pseudo-C so a reviewer can read what will be enforced; without either, prints a summary.\n"
    "          --notify compiles exactly what `cordon run` installs: denials, kills, traps and foreign-ABI\n"
    "          calls go to the supervisor as user notifications (it records each, then gives the profile's\n"
    "          action: the errno, the kill, the trap; docs/seccomp.md).\n"
    "check     Say what the profile does to one call. ARGs are numbers (decimal or 0x hex).\n"
    "--strict  Unknown syscall names and duplicate rules are errors instead of warnings.\n"
    "\n"
    "Examples:\n"
    "  cordon seccomp compile default --pfc | less\n"
    "  cordon seccomp check default socket 17 3 0      # AF_PACKET: denied\n";


Result<seccomp::Profile> Load(const std::string& name, bool strict, const char* data_dir) {
  CORDON_ASSIGN_OR_RETURN(auto found, ReadSeccompProfile(name, data_dir));
  seccomp::LoadOptions lo;
  lo.strict = strict;
  lo.source_name = found.first;
  utsname u{};
  ::uname(&u);
  if (auto kv = seccomp::ParseKernelRelease(u.release)) lo.context.kernel = *kv;
  auto p = seccomp::ParseProfile(found.second, lo);
  if (p) {
    for (const auto& w : p->warnings) std::fprintf(stderr, "cordon: warning: %s\n", w.c_str());
  }
  return p;
}

bool ParseNumber(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtoull(s, &end, 0);
  return errno == 0 && end != s && *end == '\0';
}

int Compile(int argc, char** argv, const char* data_dir) {
  std::string profile, out;
  bool pfc = false, notify = false, strict = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-o" && i + 1 < argc) {
      out = argv[++i];
    } else if (a == "--pfc") {
      pfc = true;
    } else if (a == "--notify") {
      notify = true;
    } else if (a == "--strict") {
      strict = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return cli::ReportFailure("seccomp compile: unknown option '" + a + "'", "see cordon seccomp --help");
    } else if (profile.empty()) {
      profile = a;
    } else {
      return cli::ReportFailure("seccomp compile: unexpected argument '" + a + "'", "see cordon seccomp --help");
    }
  }
  if (profile.empty()) return cli::ReportFailure("seccomp compile: no PROFILE given", "see cordon seccomp --help");
  auto p = Load(profile, strict, data_dir);
  if (!p) return cli::ReportFailure(p.error().Message(), p.error().hint);
  seccomp::CompileOptions co;
  co.notify_denials = notify;
  if (pfc) {
    auto text = seccomp::ExportPfc(*p, co);
    if (!text) return cli::ReportFailure(text.error().Message());
    std::fwrite(text->data(), 1, text->size(), stdout);
  }
  auto c = seccomp::Compile(*p, co);
  if (!c) return cli::ReportFailure(c.error().Message());
  if (!out.empty()) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return cli::ReportFailure("-o " + out + ": " + std::strerror(errno));
    bool ok = ::write(fd, c->bpf.data(), c->bpf.size()) == static_cast<ssize_t>(c->bpf.size());
    ::close(fd);
    if (!ok) return cli::ReportFailure("write " + out + ": " + std::strerror(errno));
  }
  if (!pfc) {
    std::printf("%s: %zu BPF instructions (%zu bytes), bpf sha256 %s, profile sha256 %s, %zu warnings%s%s\n",
                profile.c_str(), c->InstructionCount(), c->bpf.size(), c->bpf_sha256.c_str(),
                c->profile_sha256.c_str(), p->warnings.size(), out.empty() ? "" : ", written to ",
                out.c_str());
  }
  return 0;
}

int Check(int argc, char** argv, const char* data_dir) {
  std::vector<std::string> pos;
  bool strict = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--strict") == 0) {
      strict = true;
    } else {
      pos.push_back(argv[i]);
    }
  }
  if (pos.size() < 2) return cli::ReportFailure("seccomp check: needs PROFILE and SYSCALL", "see cordon seccomp --help");
  if (pos.size() > 8) return cli::ReportFailure("seccomp check: at most 6 syscall arguments");
  uint64_t nr_in = 0;
  std::optional<int> nr = ParseNumber(pos[1].c_str(), &nr_in) ? std::optional<int>(static_cast<int>(nr_in))
                                                                 : seccomp::SyscallNumber(pos[1]);
  if (!nr) return cli::ReportFailure("seccomp check: unknown syscall '" + pos[1] + "' on this architecture");
  uint64_t args[6] = {};
  for (size_t i = 2; i < pos.size(); ++i) {
    if (!ParseNumber(pos[i].c_str(), &args[i - 2]))
      return cli::ReportFailure("seccomp check: argument '" + pos[i] + "' is not a number", "use decimal or 0x hex");
  }
  auto p = Load(pos[0], strict, data_dir);
  if (!p) return cli::ReportFailure(p.error().Message(), p.error().hint);
  seccomp::Decision d = seccomp::Evaluate(*p, seccomp::NativeAuditArch(), *nr, args);
  std::string name = seccomp::SyscallName(*nr).value_or(pos[1]);
  std::string action(seccomp::ActionName(d.action));
  if (d.action == seccomp::Action::kErrno) {
    const char* en = strerrorname_np(d.errno_ret);
    action += std::string("(") + (en ? en : std::to_string(d.errno_ret).c_str()) + ")";
  }
  std::printf("%s (nr %d): %s, decided by %s\n", name.c_str(), *nr, action.c_str(), d.rule_path.c_str());
  return 0;
}

}  // namespace

int CmdSeccomp(int argc, char** argv, const char* data_dir) {
  if (argc < 1 || std::strcmp(argv[0], "-h") == 0 || std::strcmp(argv[0], "--help") == 0) {
    std::fputs(kUsage, argc < 1 ? stderr : stdout);
    return argc < 1 ? kExitCordonFailure : 0;
  }
  std::string sub = argv[0];
  if (sub == "compile") return Compile(argc - 1, argv + 1, data_dir);
  if (sub == "check") return Check(argc - 1, argv + 1, data_dir);
  if (IsSeccompAuditCommand(sub)) return CmdSeccompAudit(sub, argc - 1, argv + 1, data_dir);
  return cli::ReportFailure("unknown seccomp command '" + sub + "'", "use compile or check; see cordon seccomp --help");
}

}  // namespace cordon
