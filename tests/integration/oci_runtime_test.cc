// cordon-runc driven directly, as containerd's shim and conmon drive runc: create (the monitor
// becomes this process's child through PR_SET_CHILD_SUBREAPER), state, start, kill, exec, delete,
// and the evidence record delete leaves. The inside-the-container checks are those of `cordon run`
// tasks (docs/kubernetes.md "Spec requirements", each row names its test here). Root and rootless.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "common/scm_rights.h"
#include "tests/integration/oci_support.h"
#include "supervisor/evidence/log.h"
#include "tests/support/cgroup_bases.h"
#include "tests/support/host.h"

namespace cordon::test::oci {
namespace {

class OciRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SANDBOX();
    dir_ = MakeDir();
    bundle_ = dir_ + "/bundle";
    ::mkdir(bundle_.c_str(), 0755);
    if (!MakeImage(bundle_ + "/rootfs")) GTEST_SKIP() << "no /bin/busybox (Debian package busybox-static)";
    root_ = dir_ + "/root";
    evidence_ = dir_ + "/evidence";
    ::setenv("CORDON_OCI_EVIDENCE_DIR", evidence_.c_str(), 1);
    BecomeSubreaper();
  }
  void TearDown() override {
    if (!dir_.empty()) (void)RunProgram({"/bin/rm", "-rf", dir_});
  }

  void Config(const nlohmann::json& c) { WriteFile(bundle_ + "/config.json", c.dump(2)); }
  Proc Runc(std::vector<std::string> args, const std::string& tag = "runc") {
    std::vector<std::string> argv = {BuildPath("bin/cordon-runc"), "--root", root_, "--log", dir_ + "/log.json",
                                     "--log-format", "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCapture(argv, dir_, tag);
  }
  // create; returns the monitor's pid from --pid-file.
  pid_t Create(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"create", "--bundle", bundle_, "--pid-file", dir_ + "/" + id + ".pid"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back(id);
    Proc p = Runc(a, "create-" + id);
    EXPECT_EQ(p.exit_code, 0) << p.err;
    return std::atoi(ReadFile(dir_ + "/" + id + ".pid").c_str());
  }
  std::string Output(const std::string& id) { return ReadFile(dir_ + "/create-" + id + ".out"); }
  nlohmann::json State(const std::string& id) {
    Proc p = Runc({"state", id}, "state");
    auto j = nlohmann::json::parse(p.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json{{"error", p.err}} : j;
  }
  nlohmann::json Evidence(const std::string& id) {
    std::string text = ReadFile(evidence_ + "/" + id + ".jsonl");
    auto j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? nlohmann::json{} : j;
  }
  // create + start + wait + delete: the container's output and exit status.
  std::pair<int, std::string> RunToEnd(const std::string& id) {
    pid_t pid = Create(id);
    EXPECT_GT(pid, 0);
    Proc s = Runc({"start", id});
    EXPECT_EQ(s.exit_code, 0) << s.err;
    int code = WaitAdopted(pid);
    Proc d = Runc({"delete", id});
    EXPECT_EQ(d.exit_code, 0) << d.err;
    return {code, Output(id)};
  }

  std::string dir_, bundle_, root_, evidence_;
};

TEST_F(OciRuntime, LifecycleStateExitCodeAndEvidence) {
  Config(BaseConfig({"/bin/sh", "-c", "echo hello from $FROM_CONFIG; exit 3"}));
  pid_t pid = Create("life");
  ASSERT_GT(pid, 0);
  nlohmann::json st = State("life");
  EXPECT_EQ(st["status"], "created") << st.dump();
  EXPECT_EQ(st["pid"], pid);
  EXPECT_EQ(st["ociVersion"], "1.0.2");
  EXPECT_EQ(st["bundle"], bundle_);
  // Created: the command has not run yet.
  EXPECT_EQ(Output("life"), "");
  ASSERT_EQ(Runc({"start", "life"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 3);
  EXPECT_EQ(Output("life"), "hello from yes\n");
  EXPECT_EQ(State("life")["status"], "stopped");
  Proc again = Runc({"start", "life"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("stopped, not created"), std::string::npos) << again.err;
  ASSERT_EQ(Runc({"delete", "life"}).exit_code, 0);
  nlohmann::json ev = Evidence("life");
  EXPECT_EQ(ev["exit"]["code"], 3) << ev.dump();
  EXPECT_EQ(ev["oci"]["id"], "life");
  EXPECT_EQ(ev["oci"]["bundle"], bundle_);
  EXPECT_FALSE(ev["usage"].is_null());
  Proc gone = Runc({"state", "life"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone.err;
  // The error also went to --log as JSON, the way containerd's shim reads runc's log.
  auto last = ReadFile(dir_ + "/log.json");
  EXPECT_NE(last.find("\"level\":\"error\""), std::string::npos) << last;
}

TEST_F(OciRuntime, InsideTheContainerAsForCordonRunTasks) {
  Config(BaseConfig({"/bin/sh", "-c",
                     "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
                     "for n in pid net mnt ipc uts user; do echo ns $n $(readlink /proc/self/ns/$n); done; "
                     "echo host=$(hostname); echo uid=$(id -u); cat /etc/image-marker; "
                     "for f in /home /root /etc/shadow /var /sys/kernel; do test -e $f && echo present $f; done; "
                     "touch /bin/x 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-writable"}));
  auto [code, out] = RunToEnd("inside");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapPrm:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapBnd:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
  for (const char* ns : {"pid", "net", "mnt", "ipc", "uts", "user"}) {
    char self[256] = {};
    ASSERT_GT(::readlink((std::string("/proc/self/ns/") + ns).c_str(), self, sizeof self - 1), 0);
    EXPECT_EQ(out.find(std::string("ns ") + ns + " " + self), std::string::npos) << ns << " is the host's: " << out;
    EXPECT_NE(out.find(std::string("ns ") + ns + " " + ns + ":["), std::string::npos) << out;
  }
  EXPECT_NE(out.find("host=oci-test-host"), std::string::npos) << out;
  EXPECT_NE(out.find("uid=0"), std::string::npos) << out;
  EXPECT_NE(out.find("from the image"), std::string::npos) << out;
  EXPECT_EQ(out.find("present"), std::string::npos) << out;
  EXPECT_EQ(out.find("root-writable"), std::string::npos) << out;
  EXPECT_NE(out.find("tmp-writable"), std::string::npos) << out;
  nlohmann::json ev = Evidence("inside");
  // Asked for, not granted, and recorded as such.
  EXPECT_EQ(ev["oci"]["capabilities_requested"].size(), 3u) << ev.dump();
}

// Each refusal names its config.json field and leaves no container behind.
TEST_F(OciRuntime, RefusesWhatCordonWillNotDoNamingTheField) {
  struct Case {
    const char* field;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Case> cases = {
      {"linux.namespaces[1].path", [](auto& c) { c["linux"]["namespaces"][1]["path"] = "/proc/1/ns/net"; }},
      {"linux.namespaces", [](auto& c) { c["linux"]["namespaces"].erase(1); }},
      {"process.capabilities.bounding", [](auto& c) { c["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN"); }},
      {"linux.devices[0]", [](auto& c) { c["linux"]["devices"] = {{{"path", "/dev/sda"}, {"type", "b"}, {"major", 8}, {"minor", 0}}}; }},
      {"mounts[4]", [](auto& c) { c["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", "/etc"}, {"options", {"rbind"}}}); }},
      {"hooks.prestart", [](auto& c) { c["hooks"] = {{"prestart", {{{"path", "/bin/true"}}}}}; }},
      {"linux.sysctl.kernel.shmmax", [](auto& c) { c["linux"]["sysctl"] = {{"kernel.shmmax", "1"}}; }},
      {"process.args", [](auto& c) { c["process"]["args"] = nlohmann::json::array(); }},
      {"ociVersion", [](auto& c) { c["ociVersion"] = "0.9"; }},
      {"process.terminal", [](auto& c) { c["process"]["terminal"] = true; }},
  };
  for (const auto& k : cases) {
    nlohmann::json c = BaseConfig({"/bin/true"});
    k.edit(c);
    Config(c);
    Proc p = Runc({"create", "--bundle", bundle_, "refused"}, "refused");
    EXPECT_EQ(p.exit_code, 1) << k.field;
    EXPECT_NE(p.err.find(std::string("config.json ") + k.field), std::string::npos) << k.field << ": " << p.err;
    EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << "one line: " << p.err;
    struct stat sb;
    EXPECT_NE(::stat((root_ + "/refused").c_str(), &sb), 0) << k.field << " left a container directory";
  }
}

TEST_F(OciRuntime, KillForwardsSignalsAndKillEndsTheSandboxThroughCordon) {
  Config(BaseConfig({"/bin/sh", "-c", "echo up; exec sleep 1000"}));
  pid_t pid = Create("term");
  ASSERT_EQ(Runc({"start", "term"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Output("term") == "up\n"; }));
  EXPECT_EQ(State("term")["status"], "running");
  Proc ps = Runc({"ps", "--format", "json", "term"}, "ps");
  auto pids = nlohmann::json::parse(ps.out, nullptr, false);
  ASSERT_TRUE(pids.is_array()) << ps.out << ps.err;
  EXPECT_GE(pids.size(), 3u) << "the monitor, the shim, the sandbox's PID 1 and the task: " << ps.out;
  Proc stats = Runc({"events", "--stats", "term"}, "stats");
  auto sj = nlohmann::json::parse(stats.out, nullptr, false);
  ASSERT_FALSE(sj.is_discarded()) << stats.out << stats.err;
  EXPECT_EQ(sj["type"], "stats");
  ASSERT_EQ(Runc({"kill", "term", "TERM"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 128 + SIGTERM);
  ASSERT_EQ(Runc({"delete", "term"}).exit_code, 0);
  EXPECT_EQ(Evidence("term")["exit"]["signal"], SIGTERM) << Evidence("term").dump();

  pid = Create("kill");
  ASSERT_EQ(Runc({"start", "kill"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Output("kill") == "up\n"; }));
  Proc refused = Runc({"delete", "kill"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("is running"), std::string::npos) << refused.err;
  ASSERT_EQ(Runc({"kill", "--all", "kill", "KILL"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 128 + SIGKILL);
  ASSERT_EQ(Runc({"delete", "kill"}).exit_code, 0);
  nlohmann::json ev = Evidence("kill");
  EXPECT_EQ(ev["failure_class"], "killed") << ev.dump();
}

TEST_F(OciRuntime, DeleteForceEndsARunningContainerAndRecordsIt) {
  Config(BaseConfig({"/bin/sh", "-c", "echo up; sleep 1000"}));
  pid_t pid = Create("force");
  ASSERT_EQ(Runc({"start", "force"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Output("force") == "up\n"; }));
  ASSERT_EQ(Runc({"delete", "--force", "force"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 128 + SIGKILL);
  EXPECT_EQ(Evidence("force")["failure_class"], "killed");
}

TEST_F(OciRuntime, ExecJoinsTheSandboxInTheSameConfinement) {
  Config(BaseConfig({"/bin/sh", "-c", "echo secret-in-tmp > /tmp/m; echo up; exec sleep 1000"}));
  pid_t pid = Create("exec");
  ASSERT_EQ(Runc({"start", "exec"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Output("exec") == "up\n"; }));
  nlohmann::json proc = {{"args", {"/bin/sh", "-c",
                                   "cat /tmp/m; echo host=$(hostname); "
                                   "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
                                   "echo pidns=$(readlink /proc/self/ns/pid); exit 7"}},
                         {"env", {"PATH=/bin"}},
                         {"cwd", "/"}};
  WriteFile(dir_ + "/process.json", proc.dump());
  Proc e = Runc({"exec", "--process", dir_ + "/process.json", "--pid-file", dir_ + "/exec.pid", "exec"}, "exec");
  EXPECT_EQ(e.exit_code, 7) << e.err;
  EXPECT_NE(e.out.find("secret-in-tmp"), std::string::npos) << e.out << e.err;
  EXPECT_NE(e.out.find("host=oci-test-host"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("CapEff:\t0000000000000000"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("CapBnd:\t0000000000000000"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("NoNewPrivs:\t1"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("Seccomp:\t2"), std::string::npos) << e.out;
  char self[256] = {};
  ASSERT_GT(::readlink("/proc/self/ns/pid", self, sizeof self - 1), 0);
  EXPECT_EQ(e.out.find(self), std::string::npos) << e.out;
  EXPECT_GT(std::atoi(ReadFile(dir_ + "/exec.pid").c_str()), 0);
  // A privileged exec is refused by field.
  proc["capabilities"] = {{"effective", {"CAP_SYS_ADMIN"}}};
  WriteFile(dir_ + "/process.json", proc.dump());
  Proc bad = Runc({"exec", "--process", dir_ + "/process.json", "exec"}, "exec-bad");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("CAP_SYS_ADMIN"), std::string::npos) << bad.err;
  ASSERT_EQ(Runc({"kill", "exec", "KILL"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 128 + SIGKILL);
  ASSERT_EQ(Runc({"delete", "exec"}).exit_code, 0);
}

TEST_F(OciRuntime, ResourcesBecomeTheSandboxLimits) {
  nlohmann::json c = BaseConfig({"/bin/sh", "-c",
                                 "head -1 /proc/meminfo; n=0; for i in $(seq 20); do sleep 2 & done; "
                                 "echo forks-failed-or-not"});
  c["linux"]["resources"] = {{"memory", {{"limit", 64 << 20}}}, {"pids", {{"limit", 8}}}};
  Config(c);
  auto [code, out] = RunToEnd("limits");
  EXPECT_NE(out.find("MemTotal:          65536 kB"), std::string::npos) << out;
  nlohmann::json ev = Evidence("limits");
  EXPECT_EQ(ev["limits"]["memory_bytes"], 64 << 20) << ev.dump();
  EXPECT_EQ(ev["limits"]["pids"], 8);
  if (ev["limits"]["enforced_by"] == "cgroup") {
    // The pids cgroup held the sandbox at 8: the 20 background sleeps could not all start.
    EXPECT_NE(ReadFile(dir_ + "/create-limits.err").find("fork"), std::string::npos)
        << ReadFile(dir_ + "/create-limits.err");
  }
}

// pause/resume through the cgroup freezer: a container printing a counter stops counting while
// paused and counts again once resumed; the record says when. Without a task cgroup (rootless, no
// delegated cgroup: decided from the host) both are refused with the reason instead.
TEST_F(OciRuntime, PauseFreezesTheContainerAndResumeThawsIt) {
  Config(BaseConfig({"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done"}));
  pid_t pid = Create("frz");
  ASSERT_EQ(Runc({"start", "frz"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Output("frz").size() > 4; }));
  Proc created = Runc({"resume", "frz"}, "resume");
  EXPECT_NE(created.exit_code, 0);
  EXPECT_NE(created.err.find("is running, not paused"), std::string::npos) << created.err;
  Proc p = Runc({"pause", "frz"}, "pause");
  if (std::string why = NoTaskCgroupReason(); !why.empty()) {
    EXPECT_NE(p.exit_code, 0);
    EXPECT_NE(p.err.find("has no cgroup freezer of its own"), std::string::npos) << p.err;
    EXPECT_EQ(State("frz")["status"], "running");
  } else {
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_EQ(State("frz")["status"], "paused");
    const size_t frozen_at = Output("frz").size();
    ::usleep(300 * 1000);
    EXPECT_EQ(Output("frz").size(), frozen_at) << "the container went on counting while paused";
    Proc again = Runc({"pause", "frz"}, "pause");
    EXPECT_NE(again.err.find("is paused, not running"), std::string::npos) << again.err;
    ASSERT_EQ(Runc({"resume", "frz"}, "resume").exit_code, 0);
    EXPECT_EQ(State("frz")["status"], "running");
    EXPECT_TRUE(WaitFor([&] { return Output("frz").size() > frozen_at + 4; }, 5)) << "no count after resume";
    ASSERT_EQ(Runc({"pause", "frz"}, "pause").exit_code, 0);  // delete --force of a paused container
  }
  ASSERT_EQ(Runc({"delete", "--force", "frz"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 128 + SIGKILL);
  nlohmann::json ev = Evidence("frz");
  EXPECT_EQ(ev["failure_class"], "killed") << ev.dump();
  if (NoTaskCgroupReason().empty()) {
    ASSERT_TRUE(ev["oci"]["events"].is_array()) << ev.dump();
    // pause, resume, pause, and the thaw delete --force does before its kill.
    ASSERT_EQ(ev["oci"]["events"].size(), 4u) << ev.dump();
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(ev["oci"]["events"][i]["op"], i % 2 ? "resume" : "pause") << i;
    EXPECT_FALSE(ev["oci"]["events"][0]["time"].is_null());
  }
}

// update changes the limits of a running container in its cgroup (read back by events --stats),
// records what it set and what it ignored, and refuses a field it cannot change by name.
TEST_F(OciRuntime, UpdateChangesTheLimitsOfARunningContainer) {
  nlohmann::json c = BaseConfig({"/bin/sh", "-c", "echo up; exec sleep 1000"});
  c["linux"]["resources"] = {{"memory", {{"limit", 64 << 20}}}, {"pids", {{"limit", 10}}}};
  Config(c);
  pid_t pid = Create("upd");
  ASSERT_EQ(Runc({"start", "upd"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Output("upd") == "up\n"; }));
  Proc bad = Runc({"update", "--memory", "lots", "upd"}, "update");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--memory 'lots' is not a size"), std::string::npos) << bad.err;
  WriteFile(dir_ + "/devices.json", R"({"devices": [{"allow": true, "access": "rwm"}]})");
  Proc dev = Runc({"update", "--resources", dir_ + "/devices.json", "upd"}, "update");
  EXPECT_NE(dev.exit_code, 0);
  EXPECT_NE(dev.err.find("--resources devices"), std::string::npos) << dev.err;
  Proc u = Runc({"update", "--memory", "128m", "--pids-limit", "20", "upd"}, "update");
  if (std::string why = NoTaskCgroupReason(); !why.empty()) {
    EXPECT_NE(u.exit_code, 0);
    EXPECT_NE(u.err.find("has no memory controller in its cgroup"), std::string::npos) << u.err;
  } else {
    ASSERT_EQ(u.exit_code, 0) << u.err;
    auto stats = [&] { return nlohmann::json::parse(Runc({"events", "--stats", "upd"}, "stats").out, nullptr, false); };
    nlohmann::json sj = stats();
    ASSERT_FALSE(sj.is_discarded());
    if (sj["data"]["memory"]["usage"].contains("limit")) {  // v1 reports it; cgroup2 has memory.max only
      EXPECT_EQ(sj["data"]["memory"]["usage"]["limit"], 128ull << 20) << sj.dump();
    }
    // pids.max is the limit, plus one on v1 where the outer shim shares the task's pids cgroup.
    if (sj["data"]["pids"].contains("limit")) {
      EXPECT_TRUE(sj["data"]["pids"]["limit"] == 20 || sj["data"]["pids"]["limit"] == 21) << sj.dump();
    }
    WriteFile(dir_ + "/res.json", R"({"memory": {"limit": 100663296, "swap": 100663296}, "cpu": {"shares": 512}})");
    Proc r = Runc({"update", "--resources", dir_ + "/res.json", "upd"}, "update");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    sj = stats();
    if (sj["data"]["memory"]["usage"].contains("limit")) {
      EXPECT_EQ(sj["data"]["memory"]["usage"]["limit"], 100663296) << sj.dump();
    }
  }
  ASSERT_EQ(Runc({"kill", "upd", "KILL"}).exit_code, 0);
  EXPECT_EQ(WaitAdopted(pid), 128 + SIGKILL);
  ASSERT_EQ(Runc({"delete", "upd"}).exit_code, 0);
  if (NoTaskCgroupReason().empty()) {
    nlohmann::json ev = Evidence("upd");
    ASSERT_EQ(ev["oci"]["events"].size(), 2u) << ev.dump();
    EXPECT_EQ(ev["oci"]["events"][0]["set"]["memory_bytes"], 128 << 20) << ev.dump();
    EXPECT_EQ(ev["oci"]["events"][0]["set"]["pids"], 20);
    EXPECT_EQ(ev["oci"]["events"][1]["set"]["memory_bytes"], 100663296);
    EXPECT_EQ(ev["oci"]["events"][1]["ignored"], nlohmann::json({"cpu.shares", "memory.swap"})) << ev.dump();  // in key order
  }
}

// Every delete appends the record to the evidence directory's tamper-evident log, sealed: `cordon
// evidence verify` accepts it, and a record changed afterwards is caught.
TEST_F(OciRuntime, DeleteAppendsTheRecordToATamperEvidentLog) {
  Config(BaseConfig({"/bin/sh", "-c", "exit 5"}));
  EXPECT_EQ(RunToEnd("first").first, 5);
  EXPECT_EQ(RunToEnd("second").first, 5);
  Proc v = RunCapture({BuildPath("bin/cordon"), "evidence", "verify", "--log", evidence_}, dir_, "verify");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("OK: valid and sealed to the end (3 records)"), std::string::npos) << v.out << v.err;
  auto file = evlog::ReadRecordFile(evidence_ + "/evidence-log/records");
  ASSERT_TRUE(file) << file.error().Message();
  ASSERT_EQ(file->records.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    nlohmann::json r = nlohmann::json::parse(file->records[i]);
    EXPECT_EQ(r["kind"], "oci_container");
    EXPECT_EQ(r["data"]["oci"]["id"], i == 1 ? "first" : "second");
    EXPECT_EQ(r["data"]["exit"]["code"], 5);
  }
  // An exit code changed in place (same length) no longer verifies.
  std::string records = ReadFile(evidence_ + "/evidence-log/records");
  size_t at = records.rfind("\"code\":5");
  ASSERT_NE(at, std::string::npos);
  records[at + 7] = '0';
  WriteFile(evidence_ + "/evidence-log/records", records);
  Proc t = RunCapture({BuildPath("bin/cordon"), "evidence", "verify", "--log", evidence_}, dir_, "verify");
  EXPECT_EQ(t.exit_code, 1) << t.out << t.err;
}

TEST_F(OciRuntime, SeccompProfileIsCompiledByCordonAndDenialsRecorded) {
  nlohmann::json c = BaseConfig({"/bin/sh", "-c", "mkdir /tmp/d && echo made || echo refused"});
  c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                           {"architectures", {"SCMP_ARCH_X86_64"}},
                           {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  Config(c);
  auto [code, out] = RunToEnd("seccomp");
  EXPECT_EQ(out, "refused\n");
  nlohmann::json ev = Evidence("seccomp");
  EXPECT_GE(ev["seccomp"]["denied_total"].get<int>(), 1) << ev["seccomp"].dump();
}

TEST_F(OciRuntime, TerminalMasterGoesOverTheConsoleSocket) {
  nlohmann::json c = BaseConfig({"/bin/sh", "-c", "test -t 0 && test -t 1 && echo IS_A_TTY; exit 5"});
  c["process"]["terminal"] = true;
  Config(c);
  std::string sock_path = dir_ + "/console.sock";
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(sock.Get(), 1), 0);
  pid_t pid = Create("tty", {"--console-socket", sock_path});
  UniqueFd conn(::accept4(sock.Get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn);
  char buf[64];
  auto msg = RecvMsg(conn.Get(), buf, sizeof buf, 1);
  ASSERT_TRUE(msg) << msg.error().Message();
  ASSERT_EQ(msg->fds.size(), 1u);
  ASSERT_EQ(Runc({"start", "tty"}).exit_code, 0);
  std::string got;
  ASSERT_TRUE(WaitFor([&] {
    char b[256];
    pollfd p{msg->fds[0].Get(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      ssize_t n = ::read(msg->fds[0].Get(), b, sizeof b);
      if (n > 0) got.append(b, static_cast<size_t>(n));
    }
    return got.find("IS_A_TTY") != std::string::npos;
  })) << got;
  EXPECT_EQ(WaitAdopted(pid), 5);
  ASSERT_EQ(Runc({"delete", "tty"}).exit_code, 0);
}

TEST_F(OciRuntime, PolicyAnnotationAddsCordonsLayers) {
  std::string policy = dir_ + "/short.json";
  WriteFile(policy, R"({"name": "short", "version": 1, "limits": {"max_wall_ms": 300}})");
  nlohmann::json c = BaseConfig({"/bin/sleep", "100"});
  c["annotations"] = {{"org.cordon.policy", policy}};
  Config(c);
  auto [code, out] = RunToEnd("policy");
  nlohmann::json ev = Evidence("policy");
  EXPECT_EQ(ev["failure_class"], "wall_timeout") << ev.dump();
  EXPECT_EQ(ev["policy"]["name"], "short");
  EXPECT_EQ(ev["oci"]["annotations"]["org.cordon.policy"], policy);
}

TEST_F(OciRuntime, FeaturesAndVersion) {
  Proc f = Runc({"features"}, "features");
  auto j = nlohmann::json::parse(f.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << f.out;
  EXPECT_EQ(j["ociVersionMin"], "1.0.0");
  EXPECT_TRUE(j["annotations"].contains("org.cordon.policy"));
  Proc v = Runc({"--version"}, "version");
  EXPECT_NE(v.out.find("cordon-runc version"), std::string::npos);
  Proc bad = Runc({"frobnicate"}, "bad");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown command 'frobnicate'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cordon::test::oci
