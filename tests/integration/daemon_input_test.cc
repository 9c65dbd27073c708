// cordond refuses input that does not say what it seems to (issue 14, items 9 and 10): NUL
// characters in a Submit, duplicate keys, deep nesting and dangling references in its
// configuration. Each through a real daemon.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <fstream>
#include <thread>

#include "supervisor/daemon/client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using namespace std::string_literals;

api::Response SubmitOrDie(DaemonProcess& d, const api::Request& req) {
  auto r = d.Call(req);
  EXPECT_TRUE(r) << r.error().Message();
  return r ? *r : api::Response{};
}

TEST(DaemonInput, NulInArgvEnvOrCwdIsRefused) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  struct Case {
    const char* what;
    std::function<void(api::SubmitRequest*)> edit;
    const char* expect;
  } cases[] = {
      {"argv", [](api::SubmitRequest* s) { s->add_argv("ab\0cd"s); }, "argv[1] contains a NUL character at byte 2"},
      {"env value", [](api::SubmitRequest* s) { s->add_env("LANG=C\0.UTF-8"s); },
       "env[0] (its value) contains a NUL character at byte 6"},
      {"env name", [](api::SubmitRequest* s) { s->add_env("LA\0NG=C"s); }, "env[0] (its name) contains a NUL"},
      {"cwd", [](api::SubmitRequest* s) { s->set_cwd("/tmp\0/x"s); }, "cwd contains a NUL character at byte 4"},
  };
  for (const auto& c : cases) {
    api::Request req;
    req.mutable_submit()->add_argv("/bin/echo");
    c.edit(req.mutable_submit());
    api::Response r = SubmitOrDie(d, req);
    EXPECT_EQ(r.error().code(), api::ERROR_CODE_INVALID_ARGUMENT) << c.what;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << c.what << ": " << r.error().message();
  }
  // Nothing ran: no task was recorded.
  api::Request list;
  list.mutable_list()->set_all(true);
  auto l = d.Call(list);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->list().tasks_size(), 0);
}

// Writes principals or a policy, sends SIGHUP, and returns the log lines the reload added.
std::string ReloadWith(DaemonProcess& d, const std::string& file, const std::string& text) {
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/" + file + ".tmp") << text;
  ::rename((d.conf() + "/" + file + ".tmp").c_str(), (d.conf() + "/" + file).c_str());
  return d.Reload();
}

TEST(DaemonInput, ConfigurationThatIsNotWhatItSaysIsRefused) {
  REQUIRE_SANDBOX();
  const std::string good = PrincipalsFor(::geteuid());
  DaemonProcess d(good);
  // "version":1,"version":2 in principals.json.
  std::string dup = good;
  dup.replace(dup.find("\"version\": 1"), 12, "\"version\": 1, \"version\": 2");
  std::string log = ReloadWith(d, "principals.json", dup);
  EXPECT_NE(log.find("reload failed, keeping the previous principals and policies"), std::string::npos) << log;
  EXPECT_NE(log.find("principals.json: version: duplicate key"), std::string::npos) << log;
  // policy_classes naming a policy that is not loaded.
  std::string dangling = good;
  dangling.insert(dangling.rfind('}'), R"(, "policy_classes": {"analyts": ["batch"]})");
  log = ReloadWith(d, "principals.json", dangling);
  EXPECT_NE(log.find("policy_classes.analyts: names policy 'analyts', which is not loaded (loaded: analyst, default)"),
            std::string::npos)
      << log;
  // A policy with a duplicate key, and one with a million-deep description.
  ReloadWith(d, "principals.json", good);
  log = ReloadWith(d, "policies/dup.json", R"({"name": "dup", "version": 1, "version": 2})");
  EXPECT_NE(log.find("policies/dup.json: version: duplicate key"), std::string::npos) << log;
  log = ReloadWith(d, "policies/dup.json",
                   R"({"name": "dup", "version": 1, "description": )" + std::string(1'000'000, '[') +
                       std::string(1'000'000, ']') + "}");
  EXPECT_NE(log.find("policies/dup.json: description[0][0][0]"), std::string::npos) << log;
  EXPECT_NE(log.find("]: nested deeper than 32 levels"), std::string::npos) << log;
  // A NUL in a policy's environment value.
  log = ReloadWith(d, "policies/dup.json", R"({"name": "dup", "version": 1, "env": {"set": {"A": "x\u0000y"}}})");
  EXPECT_NE(log.find("policies/dup.json: env.set.A: the string contains a NUL character"), std::string::npos) << log;
  // Each refused reload kept the previous set: the daemon still serves.
  EXPECT_EQ(d.Cli({"submit", "--", "/bin/true"}).exit_code, 0) << d.Log();
  // And at start, such a file stops cordond with the same message.
  ::unlink((d.conf() + "/policies/dup.json").c_str());
  d.WritePrincipals(dup);
  ASSERT_EQ(d.Signal(SIGKILL) & 0x7f, SIGKILL);
  auto start = RunProgram({BuildPath("bin/cordond"), "--socket", d.dir() + "/second.sock", "--state-dir",
                           d.dir() + "/state2", "--config-dir", d.conf()},
                          RunOptions{.stdin_data = "", .env = {}, .timeout_ms = 20000});
  EXPECT_EQ(start.exit_code, 125) << start.err;
  EXPECT_NE(start.err.find("version: duplicate key: it is given twice in one object"), std::string::npos) << start.err;
}

}  // namespace
}  // namespace cordon::test
