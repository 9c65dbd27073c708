#include "supervisor/cli/seccomp_audit.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/setup_step.h"
#include "supervisor/cli/operands.h"
#include "supervisor/cli/report.h"
#include "supervisor/seccomp/audit/diff.h"
#include "supervisor/seccomp/audit/disasm.h"
#include "supervisor/seccomp/audit/explain.h"
#include "supervisor/seccomp/audit/export.h"
#include "supervisor/seccomp/audit/groups.h"
#include "supervisor/seccomp/audit/lint.h"
#include "supervisor/seccomp/groups.h"
#include "supervisor/seccomp/profile.h"
#include "supervisor/seccomp/filter.h"

namespace cordon {
namespace {

using seccomp::audit::Args;

// Exit codes, diff(1)-like: 0 clean/same, 1 findings/different, 125 (kExitCordonFailure) bad input.
constexpr int kExitFound = 1;

constexpr const char* kUsage =
    "Usage: cordon seccomp lint PROFILE [--json | --sarif] [--fail-on SEVERITY|none] [--kernel X.Y]\n"
    "       cordon seccomp explain PROFILE [SYSCALL [ARG0 ...]] [--arch x86_64|x32|i386] [--json]\n"
    "       cordon seccomp diff A B [--json]\n"
    "       cordon seccomp disasm PROFILE|BPF_FILE [--notify] [--json]\n"
    "       cordon seccomp groups [PROFILE] [--json]\n"
    "       cordon seccomp export PROFILE --format bpf|bwrap|systemd|nsjail|oci [-o FILE]\n"
    "       cordon seccomp record [--policy P] [-o PROFILE] [--merge] [--base PROFILE] -- CMD [ARGS...]\n"
    "\n"
    "PROFILE is a shipped profile name (default, strict) or a path to an OCI/Docker seccomp JSON file,\n"
    "resolved for a task with no capabilities on this kernel (Docker's includes/excludes).\n"
    "\n"
    "lint      Findings with a severity (info, low, medium, high, critical), the JSON path that decides\n"
    "          and a fix. Exit 1 when a finding is at least --fail-on (default: high), 0 otherwise.\n"
    "          --sarif writes SARIF 2.1.0 for code-scanning dashboards. --kernel X.Y: resolve and check\n"
    "          the names for that kernel release instead of the running one (uname).\n"
    "explain   Which rule decides SYSCALL (with ARGs: decimal or 0x hex) on each ABI, as Cordon enforces\n"
    "          it and as runc/crun would. Without SYSCALL: the decision table of every syscall of the ABI.\n"
    "diff      By meaning: every syscall, ABI and argument region decided differently, as was -> now.\n"
    "          Exit 1 when the profiles differ, 0 when they decide every call alike.\n"
    "disasm    The compiled BPF (or a raw BPF file) as instructions, with syscall names and return\n"
    "          values. --notify: exactly what `cordon run` installs (denials as user notifications).\n"
    "groups    systemd's syscall sets (@mount, @module, @raw-io…); with PROFILE, which it allows in full,\n"
    "          in part or not at all. Profiles may name them in `names` (\"@basic-io\"): Cordon expands\n"
    "          them; runc and crun do not know them.\n"
    "export    bpf/bwrap: raw BPF with the profile's own actions (`bwrap --seccomp 3 3<FILE`); systemd:\n"
    "          SystemCallFilter= lines, with `# lost:` for what systemd cannot say; nsjail: a Kafel policy;\n"
    "          oci: the profile as written with every `@group` expanded, for runc, crun, Docker, Podman.\n"
    "\n"
    "Examples:\n"
    "  cordon seccomp lint ../shared/profiles/moby-default.json --fail-on critical\n"
    "  cordon seccomp explain default ioctl 0 0x5412\n"
    "  cordon seccomp diff default strict\n";

// A refusal of this command: the cause, and by default where its usage is (cli/report.h).
int Refuse(std::string_view msg, std::string_view hint = "see cordon seccomp lint --help") { return cli::ReportFailure(msg, hint); }

// Loads a profile the way `cordon run` resolves it. Warnings go to stderr unless `quiet` (lint turns
// them into findings).
// `kernel`: resolve for that release instead of the running one (`lint --kernel`).
Result<seccomp::Profile> Load(const std::string& name, const char* data_dir, bool quiet,
                              std::optional<seccomp::KernelVersion> kernel = std::nullopt) {
  CORDON_ASSIGN_OR_RETURN(auto found, ReadSeccompProfile(name, data_dir));
  seccomp::LoadOptions lo;
  lo.source_name = found.first;
  utsname u{};
  ::uname(&u);
  if (auto kv = seccomp::ParseKernelRelease(u.release)) lo.context.kernel = *kv;
  if (kernel) lo.context.kernel = *kernel;
  auto p = seccomp::ParseProfile(found.second, lo);
  if (p && !quiet) {
    for (const auto& w : p->warnings) std::fprintf(stderr, "cordon: warning: %s\n", w.c_str());
  }
  return p;
}

bool ParseNumber(const std::string& s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtoull(s.c_str(), &end, 0);
  return errno == 0 && end != s.c_str() && *end == '\0' && s[0] != '-';
}

void Print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int Lint(int argc, char** argv, const char* data_dir) {
  std::string profile;
  bool json = false, sarif = false;
  // --fail-on none: never exit 1 (the gate is off).
  bool gate = true;
  seccomp::audit::Severity fail_on = seccomp::audit::Severity::kHigh;
  std::optional<seccomp::KernelVersion> kernel;  // --kernel: lint for that release, not uname's
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--sarif") {
      sarif = true;
    } else if (a == "--fail-on") {
      if (i + 1 >= argc) return Refuse("seccomp lint: --fail-on needs a severity", "info, low, medium, high, critical or none");
      std::string v = argv[++i];
      if (v == "none") {
        gate = false;
      } else if (auto s = seccomp::audit::ParseSeverity(v)) {
        fail_on = *s;
      } else {
        return Refuse("seccomp lint: --fail-on '" + v + "' is not a severity", "info, low, medium, high, critical or none");
      }
    } else if (a == "--kernel") {
      if (i + 1 >= argc) return Refuse("seccomp lint: --kernel needs a release", "e.g. --kernel 5.10");
      std::string v = argv[++i];
      auto kv = seccomp::ParseKernelRelease(v);
      if (!kv) return Refuse("seccomp lint: --kernel '" + v + "' is not a kernel release", "e.g. --kernel 5.10 or 6.1.0-18-amd64");
      kernel = *kv;
    } else if (a.size() > 1 && a[0] == '-') {
      return Refuse("seccomp lint: unknown option '" + a + "'");
    } else if (profile.empty()) {
      profile = a;
    } else {
      return Refuse("seccomp lint: unexpected argument '" + a + "' (one PROFILE per run)");
    }
  }
  if (profile.empty()) return Refuse("seccomp lint: no PROFILE given");
  if (json && sarif) return Refuse("seccomp lint: --json and --sarif are exclusive", "pick one output format");
  auto p = Load(profile, data_dir, true, kernel);
  if (!p) return Refuse(p.error().Message(), p.error().hint);
  auto findings = seccomp::audit::LintProfile(*p);
  if (sarif) {
    Print(seccomp::audit::RenderSarif(p->name, "cordon seccomp lint", findings));
  } else if (json) {
    Print(seccomp::audit::RenderJson(p->name, findings));
  } else {
    Print(seccomp::audit::RenderText(p->name, findings));
  }
  return gate && seccomp::audit::AnyAtLeast(findings, fail_on) ? kExitFound : 0;
}

int Explain(int argc, char** argv, const char* data_dir) {
  std::vector<std::string> pos;
  bool json = false;
  std::optional<seccomp::audit::Abi> abi;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--arch") {
      if (i + 1 >= argc) return Refuse("seccomp explain: --arch needs an ABI", "x86_64, x32 or i386");
      abi = seccomp::audit::FindAbi(argv[++i]);
      if (!abi) return Refuse(std::string("seccomp explain: unknown --arch '") + argv[i] + "' on this machine", "x86_64, x32 or i386");
    } else if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
      return Refuse("seccomp explain: unknown option '" + a + "'");
    } else {
      pos.push_back(a);
    }
  }
  if (pos.empty()) return Refuse("seccomp explain: no PROFILE given");
  if (pos.size() > 8) return Refuse("seccomp explain: at most 6 syscall arguments");
  std::optional<Args> args;
  for (size_t i = 2; i < pos.size(); ++i) {
    if (!args) args = Args{};
    if (!ParseNumber(pos[i], &(*args)[i - 2]))
      return Refuse("seccomp explain: argument '" + pos[i] + "' is not a number", "use decimal or 0x hex");
  }
  if (pos.size() >= 2) {
    bool known = false;
    for (const auto& a : seccomp::audit::KnownAbis()) known = known || seccomp::audit::NumberOn(a, pos[1]).has_value();
    if (!known) return Refuse("seccomp explain: unknown syscall '" + pos[1] + "' on every ABI of this machine", "use the kernel's name, e.g. clone3, socket, ioctl");
  }
  auto p = Load(pos[0], data_dir, json);
  if (!p) return Refuse(p.error().Message(), p.error().hint);
  if (pos.size() == 1) {
    const auto a = abi.value_or(seccomp::audit::KnownAbis()[0]);
    auto rows = seccomp::audit::ExplainTable(*p, a);
    Print(json ? seccomp::audit::RenderTableJson(p->name, a, rows) : seccomp::audit::RenderTableText(p->name, a, rows));
    return 0;
  }
  std::vector<seccomp::audit::Abi> abis;
  if (abi) abis.push_back(*abi);
  auto e = seccomp::audit::ExplainCall(*p, pos[1], args, abis);
  Print(json ? seccomp::audit::RenderCallJson(e) : seccomp::audit::RenderCallText(e));
  return 0;
}

int Diff(int argc, char** argv, const char* data_dir) {
  cli::JsonAndPair args;
  if (auto refused = cli::ReadJsonAndPair(argc, argv, "seccomp diff", "profiles", "see cordon seccomp lint --help", &args))
    return *refused;
  const bool json = args.json;
  const std::vector<std::string> pos{args.a, args.b};
  auto a = Load(pos[0], data_dir, json);
  if (!a) return Refuse(a.error().Message(), a.error().hint);
  auto b = Load(pos[1], data_dir, json);
  if (!b) return Refuse(b.error().Message(), b.error().hint);
  auto changes = seccomp::audit::DiffProfiles(*a, *b);
  Print(json ? seccomp::audit::RenderDiffJson(pos[0], pos[1], changes)
             : seccomp::audit::RenderDiffText(pos[0], pos[1], changes));
  return changes.empty() ? 0 : kExitFound;
}

Result<std::vector<uint8_t>> ReadBpfFile(const std::string& path) {
  CORDON_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

// A file that is not JSON (its first non-blank byte is not '{') is taken as raw BPF.
bool LooksLikeBpf(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r') continue;
    return buf[i] != '{';
  }
  return false;
}

int Disasm(int argc, char** argv, const char* data_dir) {
  std::string input;
  bool json = false, notify = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--notify") {
      notify = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return Refuse("seccomp disasm: unknown option '" + a + "'");
    } else if (input.empty()) {
      input = a;
    } else {
      return Refuse("seccomp disasm: unexpected argument '" + a + "'");
    }
  }
  if (input.empty()) return Refuse("seccomp disasm: no PROFILE or BPF file given");
  std::vector<uint8_t> bpf;
  if (LooksLikeBpf(input)) {
    auto b = ReadBpfFile(input);
    if (!b) return Refuse(b.error().Message(), b.error().hint);
    bpf = std::move(*b);
  } else {
    auto p = Load(input, data_dir, json);
    if (!p) return Refuse(p.error().Message(), p.error().hint);
    seccomp::CompileOptions co;
    co.notify_denials = notify;
    auto c = seccomp::Compile(*p, co);
    if (!c) return Refuse(c.error().Message());
    bpf = std::move(c->bpf);
  }
  auto prog = seccomp::audit::Disassemble(bpf);
  if (!prog) return Refuse(input + ": " + prog.error().Message(), prog.error().hint);
  Print(json ? seccomp::audit::RenderDisasmJson(*prog) : seccomp::audit::RenderDisasmText(*prog));
  return 0;
}

int Groups(int argc, char** argv, const char* data_dir) {
  std::string profile;
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return Refuse("seccomp groups: unknown option '" + a + "'");
    } else if (profile.empty()) {
      profile = a;
    } else {
      return Refuse("seccomp groups: unexpected argument '" + a + "'");
    }
  }
  if (profile.empty()) {
    std::string text;
    nlohmann::ordered_json js = {{"groups", nlohmann::ordered_json::array()}};
    for (const auto& g : seccomp::GroupTable()) {
      auto members = seccomp::ExpandGroup(g.name);
      std::string list;
      for (const auto& m : members) list += " " + m;
      text += g.name + ":" + list + "\n";
      js["groups"].push_back({{"group", g.name}, {"syscalls", members}});
    }
    Print(json ? js.dump() + "\n" : text);
    return 0;
  }
  auto p = Load(profile, data_dir, json);
  if (!p) return Refuse(p.error().Message(), p.error().hint);
  auto g = seccomp::audit::GroupsFor(*p);
  Print(json ? seccomp::audit::RenderGroupsJson(p->name, g) : seccomp::audit::RenderGroupsText(p->name, g));
  return 0;
}

int WriteOut(const std::string& path, const void* data, size_t size, bool binary) {
  if (path.empty() || path == "-") {
    if (binary && ::isatty(STDOUT_FILENO)) return Refuse("seccomp export: refusing to write binary BPF to a terminal", "use -o FILE or redirect stdout");
    return std::fwrite(data, 1, size, stdout) == size ? 0 : Refuse("seccomp export: write to stdout failed");
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Refuse("seccomp export: -o " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, data, size) == static_cast<ssize_t>(size);
  ok = ::close(fd) == 0 && ok;
  return ok ? 0 : Refuse("seccomp export: write " + path + ": " + std::strerror(errno));
}

int Export(int argc, char** argv, const char* data_dir) {
  std::string profile, format, out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--format" && i + 1 < argc) {
      format = argv[++i];
    } else if (a == "-o" && i + 1 < argc) {
      out = argv[++i];
    } else if (a.size() > 1 && a[0] == '-') {
      return Refuse("seccomp export: unknown option '" + a + "' (or missing value)");
    } else if (profile.empty()) {
      profile = a;
    } else {
      return Refuse("seccomp export: unexpected argument '" + a + "'");
    }
  }
  if (profile.empty()) return Refuse("seccomp export: no PROFILE given");
  if (format != "bpf" && format != "bwrap" && format != "systemd" && format != "nsjail" && format != "oci") {
    return Refuse("seccomp export: --format " + (format.empty() ? std::string("is required") : "'" + format + "' is not known"),
                "use --format bpf, bwrap, systemd, nsjail or oci");
  }
  auto p = Load(profile, data_dir, false);
  if (!p) return Refuse(p.error().Message(), p.error().hint);
  if (format == "oci") {  // the profile as written, `@group` names expanded, for runc, crun, Docker, Podman
    auto found = ReadSeccompProfile(profile, data_dir);
    if (!found) return Refuse(found.error().Message(), found.error().hint);
    auto text = seccomp::ExpandProfileGroups(found->second, found->first);
    if (!text) return Refuse(text.error().Message());
    return WriteOut(out, text->data(), text->size(), false);
  }
  if (format == "bpf" || format == "bwrap") {
    auto bpf = seccomp::audit::ExportBpf(*p);
    if (!bpf) return Refuse(bpf.error().Message());
    return WriteOut(out, bpf->data(), bpf->size(), true);
  }
  Result<seccomp::audit::TextExport> t = format == "systemd" ? Result<seccomp::audit::TextExport>(seccomp::audit::ExportSystemd(*p))
                                                             : seccomp::audit::ExportKafel(*p);
  if (!t) return Refuse(t.error().Message());
  for (const auto& l : t->lost) std::fprintf(stderr, "cordon: %s export loses: %s\n", format.c_str(), l.c_str());
  return WriteOut(out, t->text.data(), t->text.size(), false);
}

}  // namespace

bool IsSeccompAuditCommand(std::string_view sub) {
  return sub == "lint" || sub == "explain" || sub == "diff" || sub == "disasm" || sub == "groups" || sub == "export" ||
         sub == "record";
}

int CmdSeccompAudit(std::string_view sub, int argc, char** argv, const char* data_dir) {
  if (sub == "record") return CmdSeccompRecord(argc, argv, data_dir);  // its own flags and --
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (sub == "lint") return Lint(argc, argv, data_dir);
  if (sub == "explain") return Explain(argc, argv, data_dir);
  if (sub == "diff") return Diff(argc, argv, data_dir);
  if (sub == "disasm") return Disasm(argc, argv, data_dir);
  if (sub == "groups") return Groups(argc, argv, data_dir);
  if (sub == "export") return Export(argc, argv, data_dir);
  return Refuse("unknown seccomp command '" + std::string(sub) + "'");
}

}  // namespace cordon
