// tests/support/daemon_pool.h: submitting to a test cordond until a task runs in a warm-pool
// sandbox, and reading back what the task and its evidence say. Shared by the pool's tests
// (daemon_pool_test.cc, daemon_pool_cpu_test.cc).
#pragma once

#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {

// Our uid may use every policy, batch class.
inline std::string AnyPolicyPrincipals() {
  return R"({"version": 1, "roles": {"all": {"policies": ["*"], "classes": ["batch"]}},
    "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
         std::to_string(::geteuid()) + R"(], "roles": ["all"]}]})";
}

// One attached `cordon submit`: its result, its task id and the task's evidence.
struct Ran {
  RunResult run;
  std::string task_id, evidence;
  bool pooled() const { return JsonField(evidence, "sandbox/pooled") == "true"; }
};

// `cordon submit` attached (`policy` "" for the default), then the evidence of that task.
inline Ran SubmitAndEvidence(DaemonProcess& d, const std::vector<std::string>& cmd, const std::string& policy = "") {
  std::vector<std::string> args = {"submit"};
  if (!policy.empty()) args.insert(args.end(), {"--policy", policy});
  args.push_back("--");
  args.insert(args.end(), cmd.begin(), cmd.end());
  Ran r;
  r.run = d.Cli(args);
  auto ps = d.Cli({"ps", "--all", "--json", "--limit", "1"});
  r.task_id = JsonField(ps.out, "0/task_id");
  r.evidence = d.Cli({"evidence", r.task_id}).out;
  return r;
}

// Submits until a task ran in a pooled sandbox (the pool fills in the background right after the
// daemon starts and after each take), at most ~10 s.
inline Ran SubmitPooled(DaemonProcess& d, const std::vector<std::string>& cmd, const std::string& policy = "") {
  Ran r;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    r = SubmitAndEvidence(d, cmd, policy);
    if (r.pooled()) return r;
  }
  ADD_FAILURE() << "no task ran pooled in 50 tries; last: " << r.run.err << d.Log();
  return r;
}

}  // namespace cordon::test
