// cordond's pure pieces: principals.json parsing, admission decisions and their reasons, the
// request fingerprint, and the /proc parsers used to find shims after a restart.
#include <gtest/gtest.h>

#include "supervisor/daemon/admission.h"
#include "supervisor/daemon/config.h"
#include "common/procfs.h"
#include "tests/support/run.h"

namespace cordon::daemon {
namespace {

constexpr const char* kPrincipals = R"({
  "version": 1,
  "roles": {
    "operator": {"policies": ["*"], "classes": ["interactive", "batch", "privileged"], "manage_all_tasks": true},
    "runner": {"policies": ["default"], "classes": ["batch"]},
    "analyst": {"policies": ["analyst"]}
  },
  "principals": [
    {"name": "root", "tenant": "ops", "uids": [0], "roles": ["operator"]},
    {"name": "agent", "tenant": "acme", "uids": [1001], "roles": ["runner", "analyst"]},
    {"name": "team", "gids": [2000], "roles": ["runner"]}
  ],
  "policy_classes": {"analyst": ["batch"]}
})";

Config MakeConfig() {
  Config cfg;
  auto p = ParsePrincipals(kPrincipals, "test.json");
  EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().Message());
  cfg.principals = *p;
  for (const char* name : {"default", "analyst"}) {
    Policy pol;
    pol.name = name;
    pol.version = 3;
    pol.env.allow = {"LANG", "LC_*"};
    pol.env.set = {{"HOME", "/work"}};
    cfg.policies[name] = LoadedPolicy{std::make_shared<const Policy>(pol), nullptr};
  }
  return cfg;
}

Submission Sub(std::string policy = "default", std::string cls = "batch") {
  Submission s;
  s.policy = std::move(policy);
  s.cls = std::move(cls);
  s.argv = {"/bin/true"};
  return s;
}

TEST(DaemonPrincipals, ParsesAndFindsByUidThenGid) {
  auto p = ParsePrincipals(kPrincipals, "t");
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_EQ(p->principals.size(), 3u);
  EXPECT_EQ(p->sha256.size(), 64u);
  EXPECT_EQ(FindPrincipal(*p, 0, 0)->name, "root");
  EXPECT_EQ(FindPrincipal(*p, 1001, 2000)->name, "agent");  // uid wins over gid
  EXPECT_EQ(FindPrincipal(*p, 4242, 2000)->name, "team");
  EXPECT_EQ(FindPrincipal(*p, 4242, 4242), nullptr);
  EXPECT_EQ(FindPrincipal(*p, 4242, 2000)->tenant, "default");
  EXPECT_EQ(p->roles.at("analyst").classes, (std::vector<std::string>{"interactive", "batch"}));
}

TEST(DaemonPrincipals, ErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {R"({"version": 2})", "version: expected 1"},
      {R"({"version": 1, "principals": [{"name": "x", "uids": [5], "roles": ["ghost"]}]})",
       "principals[0].roles[0]: role 'ghost' is not defined"},
      {R"({"version": 1, "principals": [{"name": "x"}]})", "lists neither uids nor gids"},
      {R"({"version": 1, "principals": [{"name": "x", "uids": [5]}, {"name": "y", "uids": [5]}]})",
       "uid 5 is already listed"},
      {R"({"version": 1, "roles": {"r": {"classes": ["urgent"]}}})", "roles.r.classes[0]: unknown class 'urgent'"},
      {R"({"version": 1, "roles": {"r": {"polices": []}}})", "roles.r.polices: unknown field"},
      {R"({"version": 1, "principals": [{"name": "x", "uids": [-1]}]})", "principals[0].uids[0]"},
      {R"({"version": 1,)", "not valid JSON"},
  };
  for (const auto& c : cases) {
    auto p = ParsePrincipals(c.text, "f.json");
    ASSERT_FALSE(p) << c.text;
    EXPECT_NE(p.error().Message().find(c.expect), std::string::npos) << p.error().Message();
  }
}

TEST(DaemonSettings, ParsesRetention) {
  auto s = ParseDaemonSettings(R"({"version": 1, "retention": {"days": 7, "tasks": 0, "description": "x"}})", "d.json");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->retain_days, 7u);
  EXPECT_EQ(s->retain_tasks, 0u);
  auto empty = ParseDaemonSettings(R"({"version": 1})", "d.json");
  ASSERT_TRUE(empty) << empty.error().Message();
  EXPECT_FALSE(empty->retain_days);
  EXPECT_FALSE(empty->retain_tasks);
}

TEST(DaemonSettings, ParsesEvidenceLogRetention) {
  auto s = ParseDaemonSettings(R"({"version": 1, "evidence_log": {"retain_records": 500, "retain_days": 90}})", "d.json");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->evlog_retain_records, 500u);
  EXPECT_EQ(s->evlog_retain_days, 90u);
  for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {R"({"version": 1, "evidence_log": {"retain_records": -5}})", "evidence_log.retain_records: expected a non-negative integer"},
           {R"({"version": 1, "evidence_log": {"keep": 1}})", "evidence_log.keep: unknown field"},
           {R"({"version": 1, "evidence_log": {"retain_days": 36501}})", "evidence_log.retain_days: at most 36500"}}) {
    auto p = ParseDaemonSettings(text, "d.json");
    ASSERT_FALSE(p) << text;
    EXPECT_NE(p.error().Message().find(expect), std::string::npos) << text << " -> " << p.error().Message();
  }
}

TEST(DaemonSettings, ShippedExampleParses) {
  const std::string path = cordon::test::SourcePath("policies/examples/daemon.json");
  auto text = ReadFileToString(path, 1u << 20);
  ASSERT_TRUE(text) << text.error().Message();
  auto s = ParseDaemonSettings(*text, path);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->retain_days, 30u);  // the example states the defaults
  EXPECT_EQ(s->retain_tasks, 100000u);
}

TEST(DaemonSettings, ErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {R"({"retention": {}})", "daemon d.json: version: expected 1"},
      {R"({"version": 1, "retention": {"days": -1}})", "retention.days: expected a non-negative integer, got -1"},
      {R"({"version": 1, "retention": {"tasks": "5"}})", "retention.tasks: expected a non-negative integer, got string"},
      {R"({"version": 1, "retention": {"days": 1.5}})", "retention.days: expected a non-negative integer, got number"},
      {R"({"version": 1, "retention": {"days": 36501}})", "retention.days: at most 36500"},
      {R"({"version": 1, "retention": {"tasks": 5, "dyas": 1}})", "retention.dyas: unknown field"},
      {R"({"version": 1, "retain_days": 1})", "retain_days: unknown field"},
      {R"({"version": 1, "retention": 30})", "retention: expected an object, got number"},
      {R"({"version": 1, "retention": {"days": 1, "days": 2}})", "days"},
      {R"([])", "(top level): expected an object"},
  };
  for (const auto& c : cases) {
    auto p = ParseDaemonSettings(c.text, "d.json");
    ASSERT_FALSE(p) << c.text;
    EXPECT_NE(p.error().Message().find(c.expect), std::string::npos) << c.text << " -> " << p.error().Message();
    EXPECT_NE(p.error().hint.find("daemon.json"), std::string::npos) << p.error().hint;
  }
}

TEST(DaemonAdmission, AllowsWhatARoleLists) {
  Config cfg = MakeConfig();
  Decision d = Admit(cfg, PeerCred{1, 1001, 1001}, Sub());
  EXPECT_TRUE(d.allowed()) << d.reason;
  EXPECT_EQ(d.principal->name, "agent");
  EXPECT_EQ(d.policy->policy->version, 3u);
  EXPECT_TRUE(Admit(cfg, PeerCred{1, 0, 0}, Sub("analyst", "privileged")).allowed() == false);  // policy_classes
  EXPECT_TRUE(Admit(cfg, PeerCred{1, 0, 0}, Sub("default", "privileged")).allowed());
}

TEST(DaemonAdmission, RefusalsSayWhoAndWhatIsMissing) {
  Config cfg = MakeConfig();
  Decision unknown = Admit(cfg, PeerCred{1, 4242, 4242}, Sub());
  EXPECT_EQ(unknown.verdict, Verdict::kUnauthenticated);
  EXPECT_NE(unknown.reason.find("uid 4242 gid 4242 is not a principal in test.json"), std::string::npos);

  Decision policy = Admit(cfg, PeerCred{1, 4242, 2000}, Sub("analyst"));
  EXPECT_EQ(policy.verdict, Verdict::kPermissionDenied);
  EXPECT_NE(policy.reason.find("principal 'team' (tenant default) may not use policy 'analyst'"), std::string::npos)
      << policy.reason;
  EXPECT_NE(policy.reason.find("policies it may use: default"), std::string::npos) << policy.reason;

  Decision cls = Admit(cfg, PeerCred{1, 1001, 1001}, Sub("default", "interactive"));
  EXPECT_EQ(cls.verdict, Verdict::kPermissionDenied);
  EXPECT_NE(cls.reason.find("only with class batch"), std::string::npos) << cls.reason;

  Decision pc = Admit(cfg, PeerCred{1, 1001, 1001}, Sub("analyst", "interactive"));
  EXPECT_NE(pc.reason.find("policy 'analyst' accepts class batch only"), std::string::npos) << pc.reason;

  Decision missing = Admit(cfg, PeerCred{1, 0, 0}, Sub("nope"));
  EXPECT_EQ(missing.verdict, Verdict::kInvalidArgument);
  EXPECT_NE(missing.reason.find("policy 'nope' is not loaded (loaded: analyst, default)"), std::string::npos);

  Submission empty = Sub();
  empty.argv.clear();
  EXPECT_EQ(Admit(cfg, PeerCred{1, 0, 0}, empty).verdict, Verdict::kInvalidArgument);
  Submission rel = Sub();
  rel.cwd = "work";
  EXPECT_NE(Admit(cfg, PeerCred{1, 0, 0}, rel).reason.find("must be an absolute path"), std::string::npos);
}

TEST(DaemonAdmission, EnvFollowsThePolicy) {
  Config cfg = MakeConfig();
  auto with_env = [&](std::string kv) {
    Submission s = Sub();
    s.env = {std::move(kv)};
    return Admit(cfg, PeerCred{1, 0, 0}, s);
  };
  EXPECT_TRUE(with_env("LC_ALL=C").allowed());
  EXPECT_NE(with_env("HOME=/root").reason.find("forces this variable"), std::string::npos);
  EXPECT_NE(with_env("SECRET=1").reason.find("not allowed by policy 'default'"), std::string::npos);
  EXPECT_NE(with_env("CORDON_X=1").reason.find("reserved"), std::string::npos);
  EXPECT_NE(with_env("LANG").reason.find("not NAME=VALUE"), std::string::npos);
}

TEST(DaemonAdmission, NulIsRefusedInEveryField) {
  Config cfg = MakeConfig();
  using namespace std::string_literals;
  auto reason = [&](auto edit) {
    Submission s = Sub();
    s.env = {"LANG=C"};
    edit(s);
    Decision d = Admit(cfg, PeerCred{1, 0, 0}, s);
    EXPECT_EQ(d.verdict, Verdict::kInvalidArgument) << d.reason;
    return d.reason;
  };
  EXPECT_EQ(reason([](Submission& s) { s.argv = {"/bin/echo", "ab\0cd"s}; }).rfind(
                "argv[1] contains a NUL character at byte 2: Linux arguments", 0),
            0u);
  EXPECT_EQ(reason([](Submission& s) { s.env = {"LANG=C\0X"s}; }).rfind("env[0] (its value) contains a NUL", 0), 0u);
  EXPECT_EQ(reason([](Submission& s) { s.env = {"LA\0NG=C"s}; }).rfind("env[0] (its name) contains a NUL", 0), 0u);
  EXPECT_EQ(reason([](Submission& s) { s.cwd = "/work\0/x"s; }).rfind("cwd contains a NUL", 0), 0u);
  EXPECT_EQ(reason([](Submission& s) { s.app_id = "a\0"s; }).rfind("app_id contains a NUL", 0), 0u);
  EXPECT_EQ(reason([](Submission& s) { s.request_id = "\0"s; }).rfind("request_id contains a NUL", 0), 0u);
  EXPECT_EQ(reason([](Submission& s) { s.fd_bindings = {"in\0"s}; }).rfind("fd_bindings[0] contains a NUL", 0), 0u);
  EXPECT_TRUE(Admit(cfg, PeerCred{1, 0, 0}, Sub()).allowed());
}

TEST(DaemonAdmission, ManageAllTasksOnlyForItsRoles) {
  Config cfg = MakeConfig();
  const auto& ps = cfg.principals;
  EXPECT_TRUE(MayManage(ps, *FindPrincipal(ps, 0, 0), "agent"));
  EXPECT_TRUE(MayManage(ps, *FindPrincipal(ps, 1001, 0), "agent"));
  EXPECT_FALSE(MayManage(ps, *FindPrincipal(ps, 1001, 0), "root"));
}

TEST(DaemonFingerprint, CoversTheRequestNotTheIdOrFds) {
  Submission a = Sub();
  a.env = {"LANG=C"};
  Submission b = a;
  b.request_id = "other";
  b.stdio = true;
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
  std::vector<Submission> variants(6, a);
  variants[0].argv = {"/bin/false"};
  variants[1].env = {"LANG=C.UTF-8"};
  variants[2].cwd = "/tmp";
  variants[3].policy = "analyst";
  variants[4].app_id = "x";
  variants[5].cls = "interactive";
  for (const auto& v : variants) EXPECT_NE(Fingerprint(v), Fingerprint(a));
  // Length prefixes: moving a byte between argv elements changes the fingerprint.
  Submission c = Sub(), d = Sub();
  c.argv = {"ab", "c"};
  d.argv = {"a", "bc"};
  EXPECT_NE(Fingerprint(c), Fingerprint(d));
}

TEST(DaemonProcfs, StartTimeSkipsTheCommField) {
  std::string line =
      "1234 (we(ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000000 100 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(ParseStatStartTime(line), 987654u);
  EXPECT_FALSE(ParseStatStartTime("1234 (x) S 1 2"));
  EXPECT_FALSE(ParseStatStartTime("garbage"));
  EXPECT_EQ(ParsePidfdFdinfoPid("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nPid:\t4711\nNSpid:\t4711\n"), 4711);
  EXPECT_FALSE(ParsePidfdFdinfoPid("pos:\t0\nPid:\t-1\n"));
  EXPECT_FALSE(ParsePidfdFdinfoPid("pos:\t0\n"));
}

TEST(DaemonProcfs, ReadsOurOwnStartTime) {
  auto st = ReadStartTime(::getpid());
  ASSERT_TRUE(st) << st.error().Message();
  EXPECT_GT(*st, 0u);
}

}  // namespace
}  // namespace cordon::daemon
