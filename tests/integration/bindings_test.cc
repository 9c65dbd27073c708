// Capabilities as file descriptors, checked from inside real sandboxes: what a binding lets the task
// reach, what it does not, and that nothing undeclared ever starts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/run.h"


namespace cordon::test {
namespace {

namespace fs = std::filesystem;

// A fresh host directory tree for one test, readable by the task's host uid in both modes.
std::string HostDir(const std::string& name) {
  std::string d = fs::path(WriteTempFile(".anchor", "")).parent_path() / ("bind-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  ::chmod(d.c_str(), 0755);
  return d;
}

std::string Policy(const std::string& name, const std::string& bindings, const std::string& extra = "") {
  return WriteTempFile(name + ".json", R"({"name": ")" + name + R"(", "version": 1, )" + extra +
                                           R"("bindings": [)" + bindings + "]}");
}

TEST(Bindings, ReadOnlyDirIsReadableAndNotWritable) {
  REQUIRE_SANDBOX();
  std::string d = HostDir("ro");
  std::ofstream(d + "/in.txt") << "data\n";
  ::chmod((d + "/in.txt").c_str(), 0644);
  auto r = CordonRun({"/bin/sh", "-c", "cat /in/in.txt; (echo x > /in/new) 2>&1 | grep -o 'Read-only file system'"},
                     {"--policy", Policy("ro", R"({"name": "in", "kind": "dir", "source": ")" + d + R"(", "target": "/in"})")});
  EXPECT_EQ(r.out, "data\nRead-only file system\n") << r.err;
  EXPECT_FALSE(fs::exists(d + "/new"));
}

TEST(Bindings, ReadWriteDirIsSeenByTheHost) {
  REQUIRE_SANDBOX();
  std::string d = HostDir("rw");
  ::chmod(d.c_str(), 0777);  // rootful tasks run under a host uid of their own
  auto r = CordonRun({"/bin/sh", "-c", "echo written > /out/result"},
                     {"--policy", Policy("rw", R"({"name": "out", "kind": "dir", "source": ")" + d +
                                                      R"(", "target": "/out", "access": "rw"})")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string got;
  std::getline(std::ifstream(d + "/result"), got);
  EXPECT_EQ(got, "written");
}

TEST(Bindings, FileBindingMountedReadOnlyAndAsAnFd) {
  REQUIRE_SANDBOX();
  std::string d = HostDir("file");
  std::ofstream(d + "/config.ini") << "key=value\n";
  ::chmod((d + "/config.ini").c_str(), 0666);  // writable on the host: only the ro mount stops the task
  std::ofstream(d + "/log.txt") << "";
  ::chmod((d + "/log.txt").c_str(), 0666);
  std::string policy = Policy("file", R"({"name": "config", "kind": "file", "source": ")" + d + R"(/config.ini", "target": "/etc/app.ini"},
                                         {"name": "log", "kind": "file", "source": ")" + d + R"(/log.txt", "access": "rw"})");
  auto r = CordonRun({"/bin/sh", "-c",
                      "cat /etc/app.ini; (echo x >> /etc/app.ini) 2>&1 | grep -o 'Read-only file system'; "
                      "echo appended >&$CORDON_FD_LOG; cat <&$CORDON_FD_CONFIG"},
                     {"--policy", policy});
  EXPECT_EQ(r.out, "key=value\nRead-only file system\nkey=value\n") << r.err;
  std::string got;
  std::getline(std::ifstream(d + "/log.txt"), got);
  EXPECT_EQ(got, "appended");
}

TEST(Bindings, SymlinkPlantedInABoundDirIsNotFollowedOut) {
  REQUIRE_SANDBOX();
  std::string d = HostDir("planted");
  std::string secret = HostDir("secret");
  std::ofstream(secret + "/key") << "TOPSECRET\n";
  ::chmod((secret + "/key").c_str(), 0644);
  fs::create_symlink(secret, d + "/escape");
  fs::create_symlink(secret + "/key", d + "/key-link");
  auto r = CordonRun({"/bin/sh", "-c", "cat /in/escape/key /in/key-link 2>/dev/null; echo done"},
                     {"--policy", Policy("planted", R"({"name": "in", "kind": "dir", "source": ")" + d + R"(", "target": "/in"})")});
  EXPECT_EQ(r.out, "done\n");
  EXPECT_EQ(r.out.find("TOPSECRET"), std::string::npos);
}

TEST(Bindings, SourceThatIsASymlinkIsRefused) {
  std::string real = HostDir("real");
  std::string link = real + "-link";
  fs::remove(link);
  fs::create_symlink(real, link);
  auto r = CordonRun({"/bin/true"}, {"--policy", Policy("symsrc", R"({"name": "in", "kind": "dir", "source": ")" + link + R"(", "target": "/in"})")});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("is a symlink or passes through one"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(link), std::string::npos);
}

TEST(Bindings, MissingSourceAndWrongTypeAreRefused) {
  auto missing = CordonRun({"/bin/true"}, {"--policy", Policy("missing", R"({"name": "in", "kind": "dir", "source": "/nonexistent/dir", "target": "/in"})")});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("/nonexistent/dir does not exist"), std::string::npos) << missing.err;
  std::string f = WriteTempFile("plain.txt", "x");
  auto wrong = CordonRun({"/bin/true"}, {"--policy", Policy("wrong", R"({"name": "in", "kind": "dir", "source": ")" + f + R"(", "target": "/in"})")});
  EXPECT_EQ(wrong.exit_code, 125);
  EXPECT_NE(wrong.err.find("is not a directory"), std::string::npos) << wrong.err;
  auto sock = CordonRun({"/bin/true"}, {"--policy", Policy("notsock", R"({"name": "s", "kind": "socket", "source": ")" + f + R"("})")});
  EXPECT_EQ(sock.exit_code, 125);
  EXPECT_NE(sock.err.find("is not a Unix socket"), std::string::npos) << sock.err;
}

TEST(Bindings, UndeclaredCallerFdIsRefusedAndNothingStarts) {
  std::string marker = WriteTempFile("never-created", "");
  fs::remove(marker);
  auto r = CordonRun({"/bin/sh", "-c", "touch " + marker}, {"--fd", "secret=0"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("policy 'default' declares no caller binding named 'secret'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(marker));
}

TEST(Bindings, CallerPipeCarriesDataIn) {
  REQUIRE_SANDBOX();
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "from-the-caller\n", 16), 16);
  ::close(p[1]);
  std::string policy = Policy("pipe", R"({"name": "feed", "kind": "pipe", "source": "caller"})");
  auto r = CordonRun({"/bin/sh", "-c", "echo fd=$CORDON_FD_FEED; cat <&$CORDON_FD_FEED"},
                     {"--policy", policy, "--fd", "feed=" + std::to_string(p[0])});
  ::close(p[0]);
  EXPECT_EQ(r.out, "fd=3\nfrom-the-caller\n") << r.err;
  // The fd must be of the declared kind: a regular file is not a pipe.
  int file = ::open(WriteTempFile("not-a-pipe", "x").c_str(), O_RDONLY);  // inheritable on purpose
  auto wrong = CordonRun({"/bin/true"}, {"--policy", policy, "--fd", "feed=" + std::to_string(file)});
  ::close(file);
  EXPECT_EQ(wrong.exit_code, 125);
  EXPECT_NE(wrong.err.find("is not a pipe"), std::string::npos) << wrong.err;
}

// A caller's directory fd must not be a way out: the task gets the directory mounted at the
// binding's target and an fd on that mount, never the caller's fd, from which ".." would walk up
// the host's tree.
TEST(Bindings, CallerDirectoryIsMountedNotPassedThrough) {
  REQUIRE_SANDBOX();
  std::string parent = HostDir("caller-parent");
  std::string ws = parent + "/workspace";
  fs::create_directories(ws);
  ::chmod(ws.c_str(), 0755);
  std::ofstream(ws + "/input.txt") << "in-workspace\n";
  ::chmod((ws + "/input.txt").c_str(), 0644);
  std::ofstream(parent + "/host-secret") << "HOST-PARENT\n";
  ::chmod((parent + "/host-secret").c_str(), 0644);
  int fd = ::open(ws.c_str(), O_RDONLY | O_DIRECTORY);  // inheritable on purpose
  ASSERT_GE(fd, 0);
  std::string policy = Policy("callerdir", R"({"name": "ws", "kind": "dir", "source": "caller", "target": "/ws"})");
  auto r = CordonRun({"python3", "-c",
                      "import os\n"
                      "fd = int(os.environ['CORDON_FD_WS'])\n"
                      "print(open('/ws/input.txt').read().strip())\n"
                      "here = os.open('.', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)\n"  // fd is O_PATH
                      "print(sorted(os.listdir(here)))\n"
                      "up = os.open('..', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)\n"
                      "print('host-secret' in os.listdir(up), 'usr' in os.listdir(up))\n"},
                     {"--policy", policy, "--fd", "ws=" + std::to_string(fd)});
  ::close(fd);
  EXPECT_EQ(r.out, "in-workspace\n['input.txt']\nFalse True\n") << r.err;
  EXPECT_EQ(r.out.find("HOST-PARENT"), std::string::npos);
}

TEST(Bindings, DirectoryAsStdioIsRefused) {
  REQUIRE_SANDBOX();
  // `cordon run ... 0< /some/dir`: the directory would reach the task as fd 0.
  std::string d = HostDir("stdin-dir");
  auto r = RunProgram({"/bin/sh", "-c", "exec " + BuildPath("bin/cordon") + " run -- /bin/true 0< " + d});
  EXPECT_EQ(r.exit_code, 125) << r.out;
  EXPECT_NE(r.err.find("stdin is a directory"), std::string::npos) << r.err;
}

TEST(Bindings, SocketBindingReachesTheServiceAndNothingElse) {
  REQUIRE_SANDBOX();
  std::string dir = HostDir("sock");
  std::string path = dir + "/echo.sock";
  int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 4), 0);
  std::thread echo([ls] {
    int c = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    char buf[256];
    ssize_t n;
    while ((n = ::read(c, buf, sizeof buf)) > 0) (void)!::write(c, buf, static_cast<size_t>(n));
    ::close(c);
  });
  auto r = CordonRun({"python3", "-c",
                      "import os, socket\n"
                      "s = socket.socket(fileno=int(os.environ['CORDON_FD_ECHO']))\n"
                      "s.sendall(b'ping'); print(s.recv(16).decode())\n"
                      "print(os.path.exists('" + path + "'))\n"},
                     {"--policy", Policy("sock", R"({"name": "echo", "kind": "socket", "source": ")" + path + R"("})")});
  echo.join();
  ::close(ls);
  EXPECT_EQ(r.out, "ping\nFalse\n") << r.err;
}

TEST(Bindings, StateIsPerTenantAndAppAndPersists) {
  REQUIRE_SANDBOX();
  std::string policy = Policy("state", R"({"name": "notes", "kind": "state", "target": "/state"})");
  std::string app = "test-app-" + std::to_string(::getpid());
  auto w = CordonRun({"/bin/sh", "-c", "echo kept > /state/note"}, {"--policy", policy, "--app", app});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto again = CordonRun({"/bin/sh", "-c", "cat /state/note; echo more >> /state/note"}, {"--policy", policy, "--app", app});
  EXPECT_EQ(again.out, "kept\n") << again.err;
  auto other_app = CordonRun({"/bin/sh", "-c", "ls -A /state | wc -l"}, {"--policy", policy, "--app", app + "-b"});
  EXPECT_EQ(other_app.out, "0\n");
  if (IsRoot()) {
    // Two tenants: each sees only its own state, whatever the task tries.
    auto a = CordonRun({"/bin/sh", "-c", "echo tenant-a > /state/owner"}, {"--policy", policy, "--app", app, "--tenant", "tenant-a"});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    auto b = CordonRun({"/bin/sh", "-c", "ls -A /state | wc -l; cat /state/owner 2>&1 | grep -c tenant-a"},
                       {"--policy", policy, "--app", app, "--tenant", "tenant-b"});
    EXPECT_EQ(b.out, "0\n0\n");
  }
}

TEST(Bindings, StateOverQuotaIsRefused) {
  REQUIRE_SANDBOX();
  std::string app = "quota-" + std::to_string(::getpid());
  std::string policy = Policy("quota", R"({"name": "notes", "kind": "state", "target": "/state", "max_bytes": 65536})");
  auto fill = CordonRun({"/bin/sh", "-c", "head -c 200000 /dev/zero > /state/blob"}, {"--policy", policy, "--app", app, "--evidence", "-"});
  EXPECT_EQ(JsonField(EvidenceLine(fill), "bindings/0/over_quota"), "true") << fill.out;
  auto next = CordonRun({"/bin/true"}, {"--policy", policy, "--app", app});
  EXPECT_EQ(next.exit_code, 125);
  EXPECT_NE(next.err.find("over its max_bytes of 65536"), std::string::npos) << next.err;
}

// Policy mounts whose source lies under /tmp (which the sandbox's own /tmp replaces) or passes
// through a symlink: any host path the operator names works.
TEST(PolicyMounts, SourcesUnderTmpAndThroughSymlinksWork) {
  REQUIRE_SANDBOX();
  char tmpl[] = "/tmp/cordon-mount-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string base = tmpl;
  ::chmod(base.c_str(), 0755);
  fs::create_directories(base + "/real/sub");
  std::ofstream(base + "/real/sub/data.txt") << "under-tmp\n";
  std::ofstream(base + "/file.txt") << "a-file\n";
  ::chmod((base + "/real").c_str(), 0755);
  ::chmod((base + "/real/sub").c_str(), 0755);
  ::chmod((base + "/real/sub/data.txt").c_str(), 0644);
  ::chmod((base + "/file.txt").c_str(), 0644);
  fs::create_directory_symlink(base + "/real", base + "/via-link");
  std::string policy = WriteTempFile("tmp-mounts.json", R"({"name": "tmp-mounts", "version": 1, "mounts": [)"
      R"({"source": ")" + base + R"(/real/sub", "target": "/opt/sub"},)"
      R"({"source": ")" + base + R"(/via-link/sub", "target": "/opt/linked"},)"
      R"({"source": ")" + base + R"(/file.txt", "target": "/opt/file.txt"}]})");
  auto r = CordonRun({"/bin/sh", "-c", "cat /opt/sub/data.txt /opt/linked/data.txt /opt/file.txt; ls /tmp | wc -l"},
                     {"--policy", policy});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "under-tmp\nunder-tmp\na-file\n0\n") << r.err;
  fs::remove_all(base);
}

TEST(Bindings, DataDomainMismatchIsRefusedAtAdmission) {
  std::string d = HostDir("domain");
  auto r = CordonRun({"/bin/true"}, {"--policy", Policy("eu", R"({"name": "in", "kind": "dir", "source": ")" + d +
                                                                       R"(", "target": "/in", "data_domain": "us"})",
                                                         R"("data_domain": "eu", )")});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("binding 'in' is in data domain 'us' but policy 'eu' is bound to 'eu'"), std::string::npos) << r.err;
}

TEST(Bindings, EvidenceHasTheCapabilityMap) {
  REQUIRE_SANDBOX();
  std::string d = HostDir("map");
  auto r = CordonRun({"/bin/true"}, {"--policy", Policy("map", R"({"name": "in", "kind": "dir", "source": ")" + d + R"(", "target": "/in"})"),
                                     "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "bindings/0/name"), "in");
  EXPECT_EQ(JsonField(ev, "bindings/0/kind"), "dir");
  EXPECT_EQ(JsonField(ev, "bindings/0/source"), d);
  EXPECT_EQ(JsonField(ev, "bindings/0/target"), "/in");
  EXPECT_EQ(JsonField(ev, "bindings/0/access"), "ro");
  EXPECT_EQ(JsonField(ev, "bindings/0/fd"), "3");
  struct stat st;
  ::stat(d.c_str(), &st);
  EXPECT_EQ(JsonField(ev, "bindings/0/inode"), std::to_string(st.st_ino));
}

// True once a child of this test process (the `cordon run` under test) holds an fd open on `path`:
// the supervisor has opened that binding. Polls /proc: the test never sleeps for a fixed time.
bool ChildHoldsFdOn(const std::string& path) {
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const std::string pid = proc.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat_file(proc.path() / "stat");
    std::string stat;
    std::getline(stat_file, stat);
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = -1;
    char state = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2 || ppid != ::getpid()) continue;
    for (const auto& fd : fs::directory_iterator(proc.path() / "fd", ec))
      if (fs::read_symlink(fd.path(), ec) == path) return true;
  }
  return false;
}

// The supervisor opens the binding's source (recording its inode), then opens --evidence: here a
// FIFO, so the open waits until this test reads it. While it waits, the test swaps the path for a
// symlink to a secret directory, then lets it go on. The sandbox must not see the secret: the shim
// re-opens the path without following symlinks and checks it is the inode the supervisor opened.
// The test holds the supervisor at that point itself; the shipped binary has no pause for it.
TEST(Bindings, SwapForASymlinkDuringAdmissionExposesNothing) {
  REQUIRE_SANDBOX();
  std::string d = HostDir("swap");
  std::string secret = HostDir("swap-secret");
  std::ofstream(secret + "/key") << "TOPSECRET\n";
  ::chmod((secret + "/key").c_str(), 0644);
  std::string policy = Policy("swap", R"({"name": "in", "kind": "dir", "source": ")" + d + R"(", "target": "/in"})");
  const std::string fifo = fs::path(d).parent_path() / ("swap-evidence-" + std::to_string(::getpid()));
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  RunResult r;
  std::thread run([&] { r = CordonRun({"/bin/sh", "-c", "cat /in/key"}, {"--policy", policy, "--evidence", fifo}); });
  // Wait for the supervisor to hold the binding open (it then blocks on the FIFO).
  const std::string canonical = fs::canonical(d);
  bool held = false;
  for (int i = 0; i < 3000 && !(held = ChildHoldsFdOn(canonical)); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (held) {
    fs::rename(d, d + "-moved");
    fs::create_symlink(secret, d);
  }
  // Unblock the supervisor's open of the FIFO in any case, so that the run ends.
  int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(rd, 0) << std::strerror(errno);
  run.join();
  std::string evidence;
  char buf[4096];
  for (ssize_t n; (n = ::read(rd, buf, sizeof buf)) > 0;) evidence.append(buf, static_cast<size_t>(n));
  ::close(rd);
  ::unlink(fifo.c_str());
  ASSERT_TRUE(held) << "the supervisor never held the binding " << d << " open: " << r.err;
  EXPECT_EQ(r.out.find("TOPSECRET"), std::string::npos);
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_TRUE(r.err.find("stage-bindings") != std::string::npos || r.err.find("resolve-bindings") != std::string::npos) << r.err;
  EXPECT_EQ(JsonField(evidence, "failure_class"), "setup_failed") << evidence;
}

}  // namespace
}  // namespace cordon::test
