// bench/seccomp_compile_bench.cc: what parsing and compiling a seccomp profile costs the supervisor
// (the BPF cache's miss path; CORDON_NO_BPF_CACHE=1 pays it on every run). Prints medians for
// people, never passes or fails on timing (moved here from a unit test that asserted a bound).
//
//   cordon-seccomp-compile-bench [--runs N] [PROFILE.json ...]   (default: the shipped default.json)
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "supervisor/seccomp/compiler.h"

namespace {

using namespace cordon::seccomp;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 21;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
      if (runs < 1) {
        std::fprintf(stderr, "cordon-seccomp-compile-bench: --runs needs a count of at least 1\n");
        return 2;
      }
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "usage: cordon-seccomp-compile-bench [--runs N] [PROFILE.json ...]\n");
      return 2;
    } else {
      files.push_back(argv[i]);
    }
  }
  if (files.empty()) files.push_back(std::string(CORDON_SOURCE_DIR) + "/seccomp-profiles/default.json");
  utsname u{};
  ::uname(&u);
  LoadOptions lo;
  if (auto k = ParseKernelRelease(u.release)) lo.context.kernel = *k;
  std::printf("%-28s %10s %12s %12s %12s %7s\n", "profile", "runs", "parse p50", "compile p50", "compile max",
              "insns");
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cordon-seccomp-compile-bench: cannot read %s: %s\n", file.c_str(), std::strerror(errno));
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::vector<double> parse_ms, compile_ms;
    size_t insns = 0;
    for (int i = 0; i < runs; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto p = ParseProfile(text.str(), lo);
      parse_ms.push_back(MsSince(t0));
      if (!p) {
        std::fprintf(stderr, "cordon-seccomp-compile-bench: %s: %s\n", file.c_str(), p.error().Message().c_str());
        return 1;
      }
      t0 = std::chrono::steady_clock::now();
      auto c = Compile(*p, {});
      compile_ms.push_back(MsSince(t0));
      if (!c) {
        std::fprintf(stderr, "cordon-seccomp-compile-bench: %s: %s\n", file.c_str(), c.error().Message().c_str());
        return 1;
      }
      insns = c->InstructionCount();
    }
    const std::string name = file.substr(file.rfind('/') + 1);
    std::printf("%-28s %10d %9.3f ms %9.3f ms %9.3f ms %7zu\n", name.c_str(), runs, Median(parse_ms),
                Median(compile_ms), *std::max_element(compile_ms.begin(), compile_ms.end()), insns);
  }
  return 0;
}
