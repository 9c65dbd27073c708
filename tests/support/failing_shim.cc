// tests/support/failing_shim.cc: see failing_shim.h.
#include "tests/support/failing_shim.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "tests/support/run.h"

namespace cordon::test {

FailingShim::FailingShim() {
  char tmpl[] = "/tmp/cordon-failing-shim-XXXXXX";
  const char* made = ::mkdtemp(tmpl);
  EXPECT_NE(made, nullptr) << "mkdtemp";
  if (made == nullptr) return;
  dir_ = made;
  std::filesystem::copy_file(BuildPath("tests/cordon-shim-testhooks"), dir_ + "/cordon-shim");
}

FailingShim::~FailingShim() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string FailingShim::EnvFor(SetupStep step) const {
  std::ofstream(dir_ + "/fail-step", std::ios::trunc) << static_cast<uint32_t>(step) << "\n";
  return "CORDON_SHIM=" + dir_ + "/cordon-shim";
}

}  // namespace cordon::test
