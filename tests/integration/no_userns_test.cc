// Hosts that take user namespaces away (docs/environments.md): `cordon run` there stops with one line
// naming the missing right and how to grant it, and exits 125; `cordon doctor` says the same before
// anything runs. The namespaces are taken away the way such hosts do it, by
// tests/helpers/take_userns_away: user.max_user_namespaces = 0 set inside a user namespace, or a
// container runtime's seccomp answer (clone3 -> ENOSYS, CLONE_NEWUSER -> EPERM).
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

// `take_userns_away MODE cordon ARGS...`. Skips when this host will not let the helper build the
// restricted host (the helper's own message, decided before Cordon runs).
RunResult WithoutUserns(const std::string& mode, std::vector<std::string> args) {
  std::vector<std::string> argv = {BuildPath("tests/helpers/take_userns_away"), mode, BuildPath("bin/cordon")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv);
}

#define SKIP_IF_HELPER_REFUSED(r)                                                                  \
  do {                                                                                            \
    if ((r).exit_code == 126 && (r).err.rfind("take_userns_away:", 0) == 0) GTEST_SKIP() << (r).err; \
  } while (0)

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(NoUserns, MaxUserNamespacesZeroNamesTheSysctlInOneLineAndExits125) {
  RunResult r = WithoutUserns("sysctl", {"run", "--", "/bin/echo", "ran"});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_EQ(r.out.find("ran"), std::string::npos) << r.out;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("user namespaces are disabled here (user.max_user_namespaces = 0)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sysctl -w user.max_user_namespaces="), std::string::npos) << r.err;
}

TEST(NoUserns, ContainerStyleSeccompProfileIsNamedInOneLineAndExits125) {
  RunResult r = WithoutUserns("seccomp", {"run", "--", "/bin/echo", "ran"});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_EQ(r.out.find("ran"), std::string::npos) << r.out;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  // "on this host" or "on this docker container": where the filter came from is the host's.
  EXPECT_NE(r.err.find("(clone3: Function not implemented): a seccomp filter on this "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("refuses clone3; "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("seccomp=unconfined"), std::string::npos) << r.err;
}


TEST(NoUserns, DoctorNamesTheMissingRightAndExits1) {
  RunResult r = WithoutUserns("sysctl", {"doctor", "--json"});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  // Landlock mode where the kernel has Landlock (landlock_mode_test.cc), otherwise none.
  const bool landlock = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u) > 0;
  EXPECT_EQ(JsonField(r.out, "mode"), landlock ? "landlock" : "none") << r.out;
  EXPECT_NE(JsonField(r.out, "why").find("user.max_user_namespaces = 0"), std::string::npos) << r.out;
  EXPECT_EQ(JsonField(r.out, "sysctl/user.max_user_namespaces"), "0") << r.out;
  EXPECT_EQ(JsonField(r.out, "user_namespaces/clone3"), "No space left on device") << r.out;
  EXPECT_EQ(JsonField(r.out, "euid"), "1000") << r.out;
}

TEST(NoUserns, DoctorSaysFullWhereTheHostAllowsItAndReportsTheHostsFeatures) {
  REQUIRE_SANDBOX();
  RunResult r = CordonCommand("doctor", {"--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(JsonField(r.out, "mode"), "full") << r.out;
  // Landlock's ABI, asked of the kernel here: the doctor must say the same.
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u);
  EXPECT_EQ(JsonField(r.out, "landlock_abi"), std::to_string(abi < 0 ? 0 : abi)) << r.out;
  // The cgroup layout, from the mount table: v2 alone, v1 alone, or both.
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  bool v1 = false, v2 = false;
  while (std::getline(mi, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype, source, opts;
    rest >> fstype >> source >> opts;
    if (fstype == "cgroup2") v2 = true;
    // A v1 hierarchy with a controller (a controller-less name=systemd one does not count).
    if (fstype == "cgroup" && opts.find("name=") == std::string::npos) v1 = true;
  }
  EXPECT_EQ(JsonField(r.out, "cgroup/layout"), v1 && v2 ? "hybrid" : v2 ? "v2" : "v1") << r.out;
  EXPECT_EQ(JsonField(r.out, "euid"), std::to_string(::geteuid())) << r.out;
  RunResult text = CordonCommand("doctor", {});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("mode:            full\n"), std::string::npos) << text.out;
  EXPECT_EQ(CordonCommand("doctor", {"--bogus"}).exit_code, 125);
}

}  // namespace
}  // namespace cordon::test
