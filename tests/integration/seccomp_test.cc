// Seccomp from inside a real sandbox: each shipped profile's promises, checked by a helper that
// makes the raw call in the sandbox, and every denial recorded in the evidence by name.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

// A policy that uses `profile` and mounts the test helpers (read-only, at their build path).
std::string PolicyFor(const std::string& profile) {
  std::string name = "seccomp-" + std::to_string(std::hash<std::string>()(profile)) + ".json";
  return WriteTempFile(name, R"({"name": "seccomp-test", "version": 1, "seccomp_profile": ")" + profile +
                                 R"(", "mounts": [{"source": ")" + BuildPath("tests/helpers") +
                                 R"(", "target": "/opt/cordon-test"}]})");
}

std::string Helper() { return "/opt/cordon-test/try_syscall"; }

struct Expect {
  std::vector<std::string> call;  // syscall name and numeric args
  std::string result;             // "ok" (any return value) or "err ENAME"
  bool denied_in_evidence;        // the supervisor must have recorded it as a denial
};

// Runs every call in one sandbox (a shell loop), then checks results and the evidence.
void CheckTable(const std::string& profile, const std::vector<Expect>& table) {
  std::string script;
  for (const auto& e : table) {
    script += Helper();
    for (const auto& a : e.call) script += " " + a;
    script += "\n";
  }
  auto r = CordonRun({"/bin/sh", "-c", script}, {"--policy", PolicyFor(profile), "--evidence", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::string line, evidence;
  std::vector<std::string> lines;
  while (std::getline(out, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), table.size() + 1) << r.out;
  evidence = lines.back();
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& e = table[i];
    if (e.result == "ok") {
      EXPECT_EQ(lines[i].rfind("ok ", 0), 0u) << profile << ": " << e.call[0] << " -> " << lines[i];
    } else {
      EXPECT_EQ(lines[i], e.result) << profile << ": " << e.call[0];
    }
  }
  // Every denial is in the evidence by name; a name no row expects denied must not be there.
  std::set<std::string> denied, seen;
  for (const auto& e : table) {
    if (e.denied_in_evidence) denied.insert(e.call[0]);
    seen.insert(e.call[0]);
  }
  for (const auto& name : seen) {
    bool recorded = evidence.find("\"syscall\":\"" + name + "\"") != std::string::npos;
    EXPECT_EQ(recorded, denied.count(name) == 1) << profile << ": " << name << " in evidence";
  }
}

TEST(Seccomp, DefaultProfileTable) {
  REQUIRE_SANDBOX();
  CheckTable("default", {
      {{"getpid"}, "ok", false},
      {{"getppid"}, "ok", false},
      {{"sched_yield"}, "ok", false},
      {{"socket", "1", "1", "0"}, "ok", false},          // AF_UNIX stream
      {{"socket", "2", "2", "0"}, "ok", false},          // AF_INET datagram
      {{"personality", "0xffffffff"}, "ok", false},      // query only
      {{"keyctl", "0"}, "err EPERM", true},
      {{"add_key"}, "err EPERM", true},
      {{"request_key"}, "err EPERM", true},
      {{"bpf", "0"}, "err EPERM", true},
      {{"perf_event_open"}, "err EPERM", true},
      {{"userfaultfd", "0"}, "err EPERM", true},
      {{"ptrace", "0"}, "err EPERM", true},
      {{"process_vm_readv"}, "err EPERM", true},
      {{"unshare", "0x10000000"}, "err EPERM", true},
      {{"setns", "0", "0"}, "err EPERM", true},
      {{"mount"}, "err EPERM", true},
      {{"umount2", "0"}, "err EPERM", true},
      {{"pivot_root"}, "err EPERM", true},
      {{"open_tree", "0"}, "err EPERM", true},
      {{"fsopen", "0"}, "err EPERM", true},
      {{"io_uring_setup", "1", "0"}, "err EPERM", true},
      {{"open_by_handle_at"}, "err EPERM", true},
      {{"kexec_load"}, "err EPERM", true},
      {{"init_module"}, "err EPERM", true},
      {{"iopl", "3"}, "err EPERM", true},
      {{"clone3"}, "err ENOSYS", true},                  // ENOSYS so libcs fall back to clone
      {{"clone", "0x10000000"}, "err EPERM", true},      // clone creating a user namespace
      {{"socket", "17", "3", "0"}, "err EPERM", true},   // AF_PACKET
      {{"socket", "38", "5", "0"}, "err EPERM", true},   // AF_ALG
      {{"socket", "40", "1", "0"}, "err EPERM", true},   // AF_VSOCK
      {{"ioctl", "0", "0x5412"}, "err EPERM", true},     // TIOCSTI
      {{"ioctl", "0", "0x100005412"}, "err EPERM", true},// TIOCSTI with high bits set
      {{"ioctl", "0", "0x541C"}, "err EPERM", true},     // TIOCLINUX
  });
}

TEST(Seccomp, StrictProfileTable) {
  REQUIRE_SANDBOX();
  CheckTable("strict", {
      {{"getpid"}, "ok", false},
      {{"socket", "1", "1", "0"}, "err EPERM", true},
      {{"socketpair", "1", "1", "0"}, "err EPERM", true},
      {{"connect", "0"}, "err EPERM", true},
      {{"keyctl", "0"}, "err EPERM", true},
      {{"unshare", "0x10000000"}, "err EPERM", true},
  });
  // Compute-only programs still run under it.
  auto r = CordonRun({"python3", "-c", "print(sum(range(10)))"}, {"--policy", PolicyFor("strict")});
  EXPECT_EQ(r.out, "45\n") << r.err;
}

TEST(Seccomp, DenialsAreCountedWithTheirRule) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", Helper() + " keyctl 0; " + Helper() + " keyctl 1; " + Helper() + " add_key"},
                     {"--policy", PolicyFor("default"), "--evidence", "-"});
  std::string ev = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  EXPECT_EQ(JsonField(ev, "seccomp/notify"), "true");
  EXPECT_EQ(JsonField(ev, "seccomp/denied_total"), "3");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/syscall"), "keyctl");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/count"), "2");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/errno"), "EPERM");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/rule"), "defaultAction");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/args/0"), "0");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/1/syscall"), "add_key");
  EXPECT_GT(std::stol(JsonField(ev, "seccomp/denied/0/first_us")), 0);
  EXPECT_EQ(JsonField(ev, "failure_class"), "none");
}

TEST(Seccomp, KillRuleEndsTheTaskAsSeccompViolationNamingTheSyscall) {
  REQUIRE_SANDBOX();
  std::string profile = WriteTempFile("kill-getppid.json", R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]})");
  auto r = CordonRun({Helper(), "getppid"}, {"--policy", PolicyFor(profile), "--evidence", "-"});
  EXPECT_EQ(r.exit_code, 128 + SIGSYS);  // as the kernel's own KILL_PROCESS (runc, crun)
  EXPECT_EQ(r.out.find("ok"), std::string::npos) << "the killed call must never return: " << r.out;
  EXPECT_EQ(JsonField(r.out, "failure_class"), "seccomp_violation") << r.out;
  EXPECT_NE(JsonField(r.out, "message").find("getppid"), std::string::npos) << r.out;
  EXPECT_EQ(JsonField(r.out, "seccomp/denied/0/action"), "SCMP_ACT_KILL_PROCESS");
  EXPECT_NE(r.err.find("getppid"), std::string::npos) << r.err;
}

// The shim stamps its exec step with clock_gettime. Where the vDSO falls back to the system call
// (a clocksource without vDSO support), a stamp taken after the filter would meet a filter that
// denies clock_gettime: a notification nobody reads before the exec, and a task stuck until its
// setup deadline. Such a filter gets the stamp taken before it loads: the task starts, and only
// its own raw call is killed.
TEST(Seccomp, AFilterThatKillsClockGettimeStillStartsTasks) {
  REQUIRE_SANDBOX();
  std::string profile = WriteTempFile("kill-clock-gettime.json", R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["clock_gettime"], "action": "SCMP_ACT_KILL_PROCESS"}]})");
  auto ok = CordonRun({"/bin/true"}, {"--policy", PolicyFor(profile), "--evidence", "-"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(JsonField(ok.out, "failure_class"), "none") << ok.out;
  auto killed = CordonRun({Helper(), "clock_gettime", "1", "0"}, {"--policy", PolicyFor(profile), "--evidence", "-"});
  EXPECT_EQ(killed.exit_code, 128 + SIGSYS) << killed.out;
  EXPECT_EQ(JsonField(killed.out, "failure_class"), "seccomp_violation") << killed.out;
}

TEST(Seccomp, ForeignAbiSyscallsAreKilled) {
  REQUIRE_SANDBOX();
  // x32: the same x86_64 filter sees nr | 0x40000000 and kills the process.
  auto x32 = CordonRun({Helper(), "--x32", "getpid"}, {"--policy", PolicyFor("default"), "--evidence", "-"});
  EXPECT_EQ(x32.exit_code, 128 + SIGSYS) << x32.out << x32.err;
  EXPECT_EQ(JsonField(x32.out.substr(x32.out.find('{')), "failure_class"), "seccomp_violation");
  // i386 `int 0x80` (getpid is 20 there): killed by the filter's architecture check, or, on kernels
  // built without IA32 emulation, refused by the CPU's exception path. It must never succeed.
  auto i386 = CordonRun({Helper(), "--int80", "20"}, {"--policy", PolicyFor("default")});
  EXPECT_TRUE(i386.exit_code == 128 + SIGSYS || i386.exit_code == 128 + SIGSEGV) << i386.exit_code << i386.out;
  EXPECT_EQ(i386.out.find("ok"), std::string::npos);
}

TEST(Seccomp, ProfileErrorsStopBeforeAnythingRuns) {
  std::string bad = WriteTempFile("bad-action.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_MAYBE"}]})");
  auto r = CordonRun({"/bin/true"}, {"--policy", PolicyFor(bad)});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("syscalls[0].action"), std::string::npos) << r.err;
  std::string no_exec = WriteTempFile("no-exec.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}]})");
  auto r2 = CordonRun({"/bin/true"}, {"--policy", PolicyFor(no_exec)});
  EXPECT_EQ(r2.exit_code, 125);
  EXPECT_NE(r2.err.find("does not allow execve"), std::string::npos) << r2.err;
  auto r3 = CordonRun({"/bin/true"}, {"--policy", PolicyFor("no-such-profile")});
  EXPECT_EQ(r3.exit_code, 125);
  EXPECT_NE(r3.err.find("seccomp profile 'no-such-profile' not found"), std::string::npos) << r3.err;
}

TEST(Seccomp, PublicProfilesRunTasks) {
  REQUIRE_SANDBOX();
  // Docker's and Podman's defaults, unchanged, enforce what their authors intend for a task
  // without capabilities: e.g. Docker's denies unshare and keyctl.
  std::string moby = SourcePath("../shared/profiles/moby-default.json");
  if (!std::ifstream(moby)) GTEST_SKIP() << "../shared/profiles not present";
  auto r = CordonRun({"/bin/sh", "-c", Helper() + " unshare 0x10000000; " + Helper() + " keyctl 0; " + Helper() + " getpid"},
                     {"--policy", PolicyFor(moby)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string a, b, c;
  std::getline(in, a);
  std::getline(in, b);
  std::getline(in, c);
  EXPECT_EQ(a, "err EPERM");
  EXPECT_EQ(b, "err EPERM");
  EXPECT_EQ(c.rfind("ok", 0), 0u);
  std::string podman = SourcePath("../shared/profiles/podman-containers-common.json");
  auto p = CordonRun({Helper(), "bpf", "0"}, {"--policy", PolicyFor(podman)});
  EXPECT_EQ(p.out, "err EPERM\n") << p.err;
}

// ---- Issue 13: each action as the kernel gives it, and every denial named ----

std::string Probe() { return "/opt/cordon-test/seccomp_probe"; }

// A profile that allows everything but one rule for kcmp (no libc or shell calls it by itself).
std::string KcmpProfile(const std::string& name, const std::string& rule_tail) {
  return WriteTempFile(name + ".json", R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["kcmp"], )" + rule_tail + "}]}");
}

// The same profile compiled without notification (`cordon seccomp compile -o`): the filter runc
// or crun would load, for the kernel's own answer.
std::string NativeBpf(const std::string& profile) {
  std::string out = WriteTempFile(std::to_string(std::hash<std::string>()(profile)) + ".bpf", "");
  auto c = RunProgram({BuildPath("bin/cordon"), "seccomp", "compile", profile, "-o", out});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  return out;
}

// Runs argv on the host under the native filter (kernel behaviour to compare with).
RunResult Native(const std::string& profile, std::vector<std::string> argv) {
  argv[0] = BuildPath("tests/helpers/" + argv[0]);
  argv.insert(argv.begin(), {BuildPath("tests/helpers/seccomp_probe"), "load", NativeBpf(profile)});
  return RunProgram(argv);
}

// `cordon run` with a wall limit, so that a hang shows as wall_timeout instead of a stuck test.
RunResult RunLimited(const std::string& profile, const std::vector<std::string>& cmd) {
  std::string pol = WriteTempFile("p-" + std::to_string(std::hash<std::string>()(profile)) + ".json",
                                  R"({"name": "seccomp-test", "version": 1, "seccomp_profile": ")" + profile +
                                      R"(", "limits": {"max_wall_ms": 20000}, "mounts": [{"source": ")" +
                                      BuildPath("tests/helpers") + R"(", "target": "/opt/cordon-test"}]})");
  return CordonRun(cmd, {"--policy", pol, "--evidence", "-"});
}

// Item 1: an errno glibc has no name for is legal, answered, and recorded by number.
TEST(SeccompActions, UnnamedErrnoIsAnsweredAndRecordedByNumber) {
  REQUIRE_SANDBOX();
  std::string profile = WriteTempFile("errno-unnamed.json", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 524},
      {"names": ["iopl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1001}]})");
  auto r = RunLimited(profile, {"/bin/sh", "-c", Helper() + " kcmp; " + Helper() + " iopl 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "err 524\nerr 1001\n");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/syscall"), "kcmp");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/errno"), "524");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/1/errno"), "1001");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/1/errno_nr"), "1001");
  EXPECT_EQ(JsonField(ev, "failure_class"), "none");
}

// Item 3: errnoRet 0 means "return 0 without running the call" in run, check, --pfc and the kernel.
TEST(SeccompActions, ErrnoZeroReturnsZeroEverywhere) {
  REQUIRE_SANDBOX();
  std::string profile = KcmpProfile("errno-zero", R"("action": "SCMP_ACT_ERRNO", "errnoRet": 0)");
  auto r = RunLimited(profile, {Helper(), "kcmp", "1", "2", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "ok 0\n");
  EXPECT_EQ(JsonField(EvidenceLine(r), "seccomp/denied/0/errno_nr"), "0");
  auto chk = RunProgram({BuildPath("bin/cordon"), "seccomp", "check", profile, "kcmp"});
  EXPECT_EQ(chk.out, "kcmp (nr 312): SCMP_ACT_ERRNO(0), decided by syscalls[0]\n") << chk.err;
  auto pfc = RunProgram({BuildPath("bin/cordon"), "seccomp", "compile", profile, "--pfc"});
  EXPECT_NE(pfc.out.find("action ERRNO(0)"), std::string::npos) << pfc.out;
  auto native = Native(profile, {"try_syscall", "kcmp", "1", "2", "0"});
  EXPECT_EQ(native.out, "ok 0\n") << native.err;
}

// Item 2: KILL_THREAD from a second thread ends that thread only; the process goes on.
TEST(SeccompActions, KillThreadFromASecondThreadEndsOnlyThatThread) {
  REQUIRE_SANDBOX();
  std::string profile = KcmpProfile("kill-thread", R"("action": "SCMP_ACT_KILL_THREAD")");
  auto native = Native(profile, {"seccomp_probe", "thread", "kcmp"});
  EXPECT_EQ(native.exit_code, 0);
  EXPECT_EQ(native.out, "main alive\n");
  auto r = RunLimited(profile, {Probe(), "thread", "kcmp"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.exit_code, 0) << r.err << ev;
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), native.out);
  EXPECT_EQ(JsonField(ev, "failure_class"), "none");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/syscall"), "kcmp");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/action"), "SCMP_ACT_KILL_THREAD");
  // The last thread: the kernel ends the process by SIGSYS (a shell sees 159).
  auto single = RunLimited(profile, {"/bin/sh", "-c", Helper() + " kcmp; echo $?"});
  EXPECT_EQ(single.out.substr(0, single.out.find('{')), "159\n") << single.err;
}

// Item 2: KILL_PROCESS from a second thread ends the whole task at once, by SIGSYS.
TEST(SeccompActions, KillProcessFromASecondThreadIsSigsys) {
  REQUIRE_SANDBOX();
  std::string profile = KcmpProfile("kill-process", R"("action": "SCMP_ACT_KILL_PROCESS")");
  auto native = Native(profile, {"seccomp_probe", "thread", "kcmp"});
  EXPECT_EQ(native.exit_code, 128 + SIGSYS);
  auto r = RunLimited(profile, {Probe(), "thread", "kcmp"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.exit_code, 128 + SIGSYS) << r.err << ev;
  EXPECT_EQ(r.out.find("main alive"), std::string::npos);
  EXPECT_EQ(JsonField(ev, "failure_class"), "seccomp_violation");
  EXPECT_EQ(JsonField(ev, "exit/signal"), "31");
  EXPECT_EQ(JsonField(ev, "seccomp/killed/syscall"), "kcmp");
  EXPECT_EQ(JsonField(ev, "seccomp/killed/signal"), "SIGSYS");
  EXPECT_NE(JsonField(ev, "message").find("kcmp"), std::string::npos) << ev;
  // Inside the sandbox the killed process looks as under runc: 128 + SIGSYS.
  auto sh = RunLimited(profile, {"/bin/sh", "-c", Probe() + " thread kcmp; echo $?"});
  EXPECT_EQ(sh.out.substr(0, sh.out.find('{')), "159\n") << sh.err;
  // A process that catches SIGSYS still ends (SIGKILL, as SIGSYS would run its handler); the task
  // is reported as the kill the profile asked for.
  auto caught = RunLimited(profile, {Probe(), "catch", "kcmp"});
  std::string cev = EvidenceLine(caught);
  EXPECT_EQ(caught.exit_code, 128 + SIGSYS) << cev;
  EXPECT_EQ(caught.out.find("trap"), std::string::npos);
  EXPECT_EQ(JsonField(cev, "seccomp/killed/signal"), "SIGKILL");
}

// Item 4: TRAP keeps its semantics (SIGSYS to the handler with si_syscall, the call skipped) and
// is recorded; an unhandled TRAP ends the process by SIGSYS and the evidence names the call.
TEST(SeccompActions, TrapReachesTheHandlerAndIsNamed) {
  REQUIRE_SANDBOX();
  std::string profile = KcmpProfile("trap", R"("action": "SCMP_ACT_TRAP")");
  auto native = Native(profile, {"seccomp_probe", "trap", "kcmp"});
  EXPECT_EQ(native.out, "trap code=1 syscall=312 arch=0xc000003e ret=4242\n") << native.err;
  auto r = RunLimited(profile, {Probe(), "trap", "kcmp"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.exit_code, 0) << ev;
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), native.out);
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/action"), "SCMP_ACT_TRAP");
  EXPECT_EQ(JsonField(ev, "failure_class"), "none");
  auto unhandled = RunLimited(profile, {Helper(), "kcmp"});
  std::string uev = EvidenceLine(unhandled);
  EXPECT_EQ(unhandled.exit_code, 128 + SIGSYS);
  EXPECT_EQ(JsonField(uev, "seccomp/killed/syscall"), "kcmp") << uev;
  EXPECT_EQ(JsonField(uev, "seccomp/killed/action"), "SCMP_ACT_TRAP");
  EXPECT_NE(JsonField(uev, "message").find("kcmp"), std::string::npos);
}

// Item 4: a foreign-ABI kill names the arch, number and name.
TEST(SeccompActions, ForeignAbiKillIsNamed) {
  REQUIRE_SANDBOX();
  auto r = RunLimited("default", {Helper(), "--x32", "getpid"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.exit_code, 128 + SIGSYS) << ev;
  EXPECT_EQ(JsonField(ev, "seccomp/killed/arch"), "SCMP_ARCH_X32");
  EXPECT_EQ(JsonField(ev, "seccomp/killed/syscall"), "getpid");
  EXPECT_EQ(JsonField(ev, "seccomp/killed/nr"), std::to_string(0x40000000 | 39));
  EXPECT_EQ(JsonField(ev, "seccomp/killed/rule"), "architecture");
  EXPECT_EQ(JsonField(ev, "seccomp/denied/0/arch"), "SCMP_ARCH_X32");
}

// Item 5: past the cap, entries and calls left out are counted.
TEST(SeccompActions, TheDenialCapSaysWhatItLeftOut) {
  REQUIRE_SANDBOX();
  // 300 numbers no kernel knows: each falls to the default profile's EPERM, a distinct entry.
  auto r = RunLimited("default", {Probe(), "range", "1000", "1300"});
  std::string ev = EvidenceLine(r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ev);
  const auto& sc = j["seccomp"];
  ASSERT_EQ(sc["denied"].size(), 256u);
  EXPECT_EQ(sc["denied_max_entries"], 256);
  EXPECT_GE(sc["omitted_entries"].get<uint64_t>(), 44u);
  uint64_t kept = 0;
  for (const auto& d : sc["denied"]) kept += d["count"].get<uint64_t>();
  EXPECT_EQ(kept + sc["omitted_calls"].get<uint64_t>(), sc["denied_total"].get<uint64_t>());
}

// Item 7: a real profile with metadata keys loads (warning), NOTIFY is refused with the reason.
TEST(SeccompActions, MetadataKeysLoadNotifyIsRefused) {
  REQUIRE_SANDBOX();
  std::string moby = SourcePath("../shared/profiles/moby-default.json");
  std::ifstream in(moby);
  if (!in) GTEST_SKIP() << "../shared/profiles not present";
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str());
  j["_source"] = "https://github.com/moby/moby/blob/master/profiles/seccomp/default.json";
  j["version"] = "24.0";
  std::string with_meta = WriteTempFile("moby-meta.json", j.dump());
  RunOptions no_cache;  // compile now, so the warnings are printed
  no_cache.env = EnvWith("CORDON_NO_BPF_CACHE=1");
  auto r = CordonRun({Helper(), "keyctl", "0"}, {"--policy", PolicyFor(with_meta)}, no_cache);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "err EPERM\n");
  EXPECT_NE(r.err.find("_source: unknown top-level field"), std::string::npos) << r.err;
  std::string notify = KcmpProfile("notify", R"("action": "SCMP_ACT_NOTIFY")");
  auto n = CordonRun({"/bin/true"}, {"--policy", PolicyFor(notify)});
  EXPECT_EQ(n.exit_code, 125);
  EXPECT_NE(n.err.find("syscalls[0].action: SCMP_ACT_NOTIFY is not supported"), std::string::npos) << n.err;
}

TEST(SeccompCli, CompileAndCheck) {
  auto sum = RunProgram({BuildPath("bin/cordon"), "seccomp", "compile", "strict"});
  EXPECT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_NE(sum.out.find("BPF instructions"), std::string::npos);
  auto pfc = RunProgram({BuildPath("bin/cordon"), "seccomp", "compile", "default", "--pfc"});
  EXPECT_EQ(pfc.exit_code, 0);
  EXPECT_NE(pfc.out.find("if ($syscall =="), std::string::npos);
  std::string out = WriteTempFile("default.bpf", "");
  auto o = RunProgram({BuildPath("bin/cordon"), "seccomp", "compile", "default", "-o", out});
  EXPECT_EQ(o.exit_code, 0);
  std::ifstream f(out, std::ios::binary | std::ios::ate);
  EXPECT_GT(static_cast<long>(f.tellg()), 0);
  EXPECT_EQ(static_cast<long>(f.tellg()) % 8, 0);
  auto chk = RunProgram({BuildPath("bin/cordon"), "seccomp", "check", "default", "socket", "17", "3", "0"});
  EXPECT_EQ(chk.out, "socket (nr 41): SCMP_ACT_ERRNO(EPERM), decided by defaultAction\n");
  auto allow = RunProgram({BuildPath("bin/cordon"), "seccomp", "check", "default", "read"});
  EXPECT_NE(allow.out.find("SCMP_ACT_ALLOW"), std::string::npos);
  auto bad = RunProgram({BuildPath("bin/cordon"), "seccomp", "check", "default", "no_such_call"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("unknown syscall"), std::string::npos);
}

}  // namespace
}  // namespace cordon::test
