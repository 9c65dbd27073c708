// tests/support/failing_shim.h: a shim that fails one setup step on purpose, injected from the test
// side. A copy of cordon-shim-testhooks (the shim built with CORDON_TEST_HOOKS, never installed)
// in a directory of its own; EnvFor(step) writes the step beside it and returns the CORDON_SHIM
// setting that makes `cordon run` use it (shim/test_hooks.h).
#pragma once

#include <string>

#include "common/setup_step.h"

namespace cordon::test {

class FailingShim {
 public:
  FailingShim();
  ~FailingShim();
  FailingShim(const FailingShim&) = delete;
  FailingShim& operator=(const FailingShim&) = delete;

  // "CORDON_SHIM=<the copy>", with `step` the one that fails.
  std::string EnvFor(SetupStep step) const;

 private:
  std::string dir_;
};

}  // namespace cordon::test
