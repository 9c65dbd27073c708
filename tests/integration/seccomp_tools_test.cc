// `cordon seccomp disasm | groups | export`, through the real binary; the bwrap export is loaded by
// the real bubblewrap and a denied call is checked to fail inside it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Seccomp(const std::vector<std::string>& args) { return CordonCommand("seccomp", args); }

TEST(SeccompDisasm, NamesSyscallsAndReturnValuesAndReadsRawBpf) {
  auto d = Seccomp({"disasm", "default"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("ld  [4]"), std::string::npos);
  EXPECT_NE(d.out.find("; AUDIT_ARCH_X86_64"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("; clone3"), std::string::npos);
  EXPECT_NE(d.out.find("ret ERRNO(ENOSYS)"), std::string::npos);  // clone3's answer
  EXPECT_NE(d.out.find("ret KILL_PROCESS"), std::string::npos);   // foreign ABI
  EXPECT_NE(d.out.find("; args[1] (low)"), std::string::npos);    // ioctl's request
  // --notify shows what `cordon run` installs: denials go to the supervisor.
  auto n = Seccomp({"disasm", "default", "--notify"});
  EXPECT_NE(n.out.find("ret USER_NOTIF"), std::string::npos);
  EXPECT_EQ(n.out.find("ret ERRNO(EPERM)"), std::string::npos);
  // A raw BPF file disassembles to the same program, instruction for instruction.
  std::string bpf = WriteTempFile("default.bpf", "");
  ASSERT_EQ(Seccomp({"compile", "default", "-o", bpf}).exit_code, 0);
  auto raw = Seccomp({"disasm", bpf});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, d.out);
  auto js = Seccomp({"disasm", bpf, "--json"});
  json j = json::parse(js.out);
  std::ifstream f(bpf, std::ios::binary | std::ios::ate);
  EXPECT_EQ(j["instructions"].size() * 8, static_cast<size_t>(f.tellg()));
  // Not a whole number of instructions: refused with the cause.
  std::string bad = WriteTempFile("bad.bpf", std::string("\x06\x00\x00\x00\x00\x00\xff", 7));
  auto b = Seccomp({"disasm", bad});
  EXPECT_EQ(b.exit_code, 125);
  EXPECT_NE(b.err.find("not a whole number of 8-byte instructions"), std::string::npos) << b.err;
}

TEST(SeccompGroups, SaysWhichSetsAProfileAllows) {
  auto all = Seccomp({"groups", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  json g = json::parse(all.out);
  bool saw_mount = false;
  for (const auto& x : g["groups"]) {
    if (x["group"] != "@mount") continue;
    saw_mount = true;
    EXPECT_NE(std::find(x["syscalls"].begin(), x["syscalls"].end(), "pivot_root"), x["syscalls"].end());
  }
  EXPECT_TRUE(saw_mount);
  auto r = Seccomp({"groups", "default", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, json> by;
  json parsed = json::parse(r.out);
  for (const auto& x : parsed["groups"]) by[x["group"].get<std::string>()] = x;
  EXPECT_EQ(by["@mount"]["verdict"], "none");
  EXPECT_EQ(by["@module"]["verdict"], "none");
  EXPECT_EQ(by["@raw-io"]["verdict"], "none");
  EXPECT_EQ(by["@reboot"]["verdict"], "none");
  EXPECT_EQ(by["@swap"]["verdict"], "none");
  EXPECT_EQ(by["@file-system"]["verdict"], "full");
  EXPECT_EQ(by["@network-io"]["verdict"], "part");  // socket only for some families
  EXPECT_NE(std::find(by["@network-io"]["allowed_for_some_args"].begin(), by["@network-io"]["allowed_for_some_args"].end(),
                      "socket"), by["@network-io"]["allowed_for_some_args"].end());
}

std::string BwrapUnavailableReason() {
  if (::access("/usr/bin/bwrap", X_OK) != 0) return "bubblewrap is not installed";
  auto r = RunProgram({"/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "/bin/true"});
  if (r.exit_code != 0) return "bwrap cannot create a sandbox on this host: " + r.err;
  return "";
}

TEST(SeccompExport, BwrapLoadsTheFilterAndItDenies) {
  if (auto why = BwrapUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  std::string bpf = WriteTempFile("bwrap.bpf", "");
  auto e = Seccomp({"export", "default", "--format", "bwrap", "-o", bpf});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::string helper = BuildPath("tests/helpers/try_syscall");
  std::string script = helper + " socket 17 3 0; " + helper + " kcmp 1 2 0; " + helper + " getpid; " + helper +
                       " clone3";
  auto r = RunProgram({"/bin/sh", "-c", "exec /usr/bin/bwrap --ro-bind / / --dev /dev --seccomp 3 -- /bin/sh -c '" +
                                            script + "' 3<" + bpf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(out, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], "err EPERM");   // AF_PACKET, denied by the default action
  EXPECT_EQ(lines[1], "err EPERM");   // kcmp
  EXPECT_EQ(lines[2].rfind("ok ", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3], "err ENOSYS");  // clone3's own errno, not a user notification
}

TEST(SeccompExport, SystemdLinesSayWhatIsLost) {
  auto r = Seccomp({"export", "default", "--format", "systemd"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nSystemCallFilter=accept accept4 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nSystemCallErrorNumber=EPERM\n"), std::string::npos);
  EXPECT_NE(r.out.find("\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nRestrictNamespaces=yes\n"), std::string::npos);
  EXPECT_NE(r.out.find("# lost: errno ENOSYS for clone3"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("systemd export loses: ioctl"), std::string::npos) << r.err;
  // Nothing denied is in the allowlist.
  size_t at = r.out.find("\nSystemCallFilter=");
  std::string line = r.out.substr(at, r.out.find('\n', at + 1) - at) + " ";
  for (const char* denied : {" bpf ", " mount ", " keyctl ", " ptrace ", " clone3 "})
    EXPECT_EQ(line.find(denied), std::string::npos) << denied;
}

TEST(SeccompExport, KafelCarriesArgumentConditions) {
  auto r = Seccomp({"export", "default", "--format", "nsjail"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("POLICY cordon {"), std::string::npos);
  EXPECT_NE(r.out.find("clone(a0, a1, a2, a3, a4, a5) { (a0 & 0x7e020000) == 0x0 }"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ERRNO(38) {\n    clone3\n  }"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("USE cordon DEFAULT ERRNO(1)"), std::string::npos);
  auto bad = Seccomp({"export", "default", "--format", "docker"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("--format 'docker' is not known"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cordon::test
