// docs/setup-sequence.md's checklist is the SetupStep enum: the same steps, numbers and names, in
// the same order. A step added, moved or renamed in one and not the other fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/setup_step.h"

namespace cordon {
namespace {

struct Row {
  uint32_t number;
  std::string name;
};

// The rows of the table under "## The checklist", as "| N | name | ...".
std::vector<Row> DocChecklist() {
  std::ifstream in(std::string(CORDON_SOURCE_DIR) + "/docs/setup-sequence.md");
  EXPECT_TRUE(in) << "cannot read docs/setup-sequence.md";
  std::vector<Row> rows;
  std::string line;
  bool in_section = false;
  const std::regex row(R"(^\| *([0-9]+) *\| *([a-z-]+) *\|)");
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) in_section = line.starts_with("## The checklist");
    std::smatch m;
    if (in_section && std::regex_search(line, m, row))
      rows.push_back({static_cast<uint32_t>(std::stoul(m[1])), m[2]});
  }
  return rows;
}

TEST(SetupStepDoc, ChecklistTableIsTheEnumInOrder) {
  const std::vector<Row> doc = DocChecklist();
  std::vector<Row> code;
  for (uint32_t n = 1; n <= static_cast<uint32_t>(SetupStep::kLast); ++n)
    code.push_back({n, SetupStepName(static_cast<SetupStep>(n))});
  ASSERT_EQ(doc.size(), code.size()) << "docs/setup-sequence.md lists " << doc.size() << " steps, the enum has "
                                     << code.size();
  for (size_t i = 0; i < code.size(); ++i) {
    EXPECT_EQ(doc[i].number, code[i].number) << "row " << i + 1 << " (" << doc[i].name << ")";
    EXPECT_EQ(doc[i].name, code[i].name) << "row " << i + 1 << ": the enum's step " << code[i].number << " is "
                                         << code[i].name;
  }
}

// One label per step: no two steps share a name, and none is left without one.
TEST(SetupStepDoc, EveryStepHasItsOwnName) {
  std::set<std::string> seen;
  for (uint32_t n = 1; n <= static_cast<uint32_t>(SetupStep::kLast); ++n) {
    const std::string name = SetupStepName(static_cast<SetupStep>(n));
    EXPECT_NE(name, "unknown") << "step " << n;
    EXPECT_TRUE(seen.insert(name).second) << name << " is used twice";
  }
  EXPECT_STREQ(SetupStepName(static_cast<SetupStep>(static_cast<uint32_t>(SetupStep::kLast) + 1)), "unknown");
}

}  // namespace
}  // namespace cordon
