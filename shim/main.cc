// cordon-shim: started by the supervisor once per task with the control socket as fd 3. The outer
// shim's code is in outer.cc (outer.h); cordon-run runs the same code in a fork of itself.
#include "shim/outer.h"
#include "shim/test_hooks.h"

int main() {
  cordon::shim::LoadTestHooks();  // test build only (shim/test_hooks.h); nothing in the shipped shim
  return cordon::shim::RunOuter();
}
