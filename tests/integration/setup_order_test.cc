// The setup steps a real `cordon run` reports in its evidence (timing.steps) are the SetupStep
// enum's, in the enum's order: the shim runs its checklist in the order common/setup_step.h and
// docs/setup-sequence.md give. And the steps that used to borrow another step's label fail under
// their own name.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/setup_step.h"
#include "support/failing_shim.h"
#include "support/run.h"

namespace cordon::test {
namespace {

std::vector<std::string> StepNames(const std::string& evidence_path) {
  std::ifstream in(evidence_path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto ev = nlohmann::json::parse(ss.str(), nullptr, false);
  std::vector<std::string> names;
  if (ev.is_discarded() || !ev.contains("timing") || !ev["timing"].contains("steps")) {
    ADD_FAILURE() << "no timing.steps in " << evidence_path << ": " << ss.str();
    return names;
  }
  for (const auto& s : ev["timing"]["steps"]) names.push_back(s.value("step", ""));
  return names;
}

// The steps a cold `cordon run` must stamp, in enum order: all of them but the pooled ones, the
// outer shim's after the clone (its stamps stay in its own memory), and stage-bindings rootless.
std::vector<std::string> ExpectedColdSteps() {
  std::vector<std::string> out;
  for (uint32_t n = 1; n <= static_cast<uint32_t>(SetupStep::kLast); ++n) {
    const auto s = static_cast<SetupStep>(n);
    if (s == SetupStep::kOuterDrop || s == SetupStep::kAwaitTask || s == SetupStep::kAwaitGo) continue;
    if (s == SetupStep::kStageBindings && !IsRoot()) continue;
    out.push_back(SetupStepName(s));
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

TEST(SetupOrder, EvidenceStepsFollowTheEnumOrder) {
  REQUIRE_SANDBOX();
  const std::string ev = WriteTempFile("setup-order.json", "");
  auto r = CordonRun({"/bin/true"}, {"--evidence", ev});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> got = StepNames(ev);
  EXPECT_EQ(Join(got), Join(ExpectedColdSteps()));
  // The same, said as order: each step's enum number is above the one before it.
  std::map<std::string, uint32_t> number;
  for (uint32_t n = 1; n <= static_cast<uint32_t>(SetupStep::kLast); ++n)
    number[SetupStepName(static_cast<SetupStep>(n))] = n;
  for (size_t i = 1; i < got.size(); ++i)
    EXPECT_LT(number[got[i - 1]], number[got[i]]) << got[i - 1] << " ran before " << got[i];
}

// With a directory binding, the binding steps do work (and still run in order).
TEST(SetupOrder, BindingStepsRunInOrderWithABinding) {
  REQUIRE_SANDBOX();
  const std::string marker = WriteTempFile("setup-order-marker", "");
  const std::string d = marker.substr(0, marker.rfind('/')) + "/setup-order-dir";
  ASSERT_EQ(::mkdir(d.c_str(), 0755) == 0 || errno == EEXIST, true) << d;
  std::ofstream(d + "/x") << "x";
  ::chmod((d + "/x").c_str(), 0644);
  const std::string policy = WriteTempFile(
      "setup-order-policy.json", R"({"name": "order", "version": 1, "bindings": [{"name": "in", "kind": "dir", "source": ")" +
                                     d + R"(", "target": "/in"}]})");
  const std::string ev = WriteTempFile("setup-order-bind.json", "");
  auto r = CordonRun({"/bin/cat", "/in/x"}, {"--policy", policy, "--evidence", ev});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "x");
  EXPECT_EQ(Join(StepNames(ev)), Join(ExpectedColdSteps()));
}

// Steps that used to report under another step's label now fail under their own name.
TEST(SetupOrder, StepsWithTheirOwnLabelFailByName) {
  REQUIRE_SANDBOX();
  FailingShim shim;
  for (SetupStep s : {SetupStep::kOuterDrop, SetupStep::kScratchMounts, SetupStep::kMountBindings,
                      SetupStep::kBindingFds, SetupStep::kProxySocket, SetupStep::kInitLockdown}) {
    RunOptions o;
    o.env = EnvWith(shim.EnvFor(s));
    auto r = CordonRun({"/bin/true"}, {"--evidence", "-"}, o);
    const std::string name = SetupStepName(s);
    EXPECT_EQ(r.exit_code, 125) << name << ": " << r.err;
    EXPECT_EQ(JsonField(EvidenceLine(r), "error/step"), name) << r.out << r.err;
    EXPECT_NE(r.err.find("setup failed at step " + name + ":"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace cordon::test
