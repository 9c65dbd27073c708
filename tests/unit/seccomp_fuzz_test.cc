// Bounded mutation fuzz of the seccomp profile parser: random byte flips, truncations,
// insertions and splices of real profiles and small snippets. Every input must come back as a
// Profile or as an Error with a non-empty context; nothing may throw or crash. Profiles that
// parse are also compiled, and Evaluate() is called, since they take the same untrusted input.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds = {
      R"({"defaultAction":"SCMP_ACT_ERRNO"})",
      R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":"EPERM"}]})",
      R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW",)"
      R"("args":[{"index":0,"value":4294967295,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"}]},{"name":"read","action":"SCMP_ACT_LOG"}]})",
      R"({"defaultAction":"SCMP_ACT_KILL","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],)"
      R"("syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8","caps":["CAP_X"]},"excludes":{"arches":["s390"]}}]})",
      R"({"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_LOG"],"listenerPath":"/x","comment":[1,{"a":null}]})",
  };
  const std::string src = CORDON_SOURCE_DIR;
  for (const std::string& path : {src + "/seccomp-profiles/default.json", src + "/seccomp-profiles/strict.json",
                                  src + "/../shared/profiles/moby-default.json",
                                  src + "/../shared/profiles/podman-containers-common.json"}) {
    if (std::filesystem::exists(path)) seeds.push_back(ReadAll(path));
  }
  return seeds;
}

// JSON-aware fragments make mutations reach past the tokenizer more often than random bytes.
const char* const kTokens[] = {"{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "18446744073709551615",
                               "1e400", "\"SCMP_ACT_ALLOW\"", "\"SCMP_CMP_MASKED_EQ\"", "\"index\":6", "\"names\":[]",
                               "\"args\":[{}]", "\\u0000", "\xff\xfe", "\"errnoRet\":\"EWHAT\""};

std::string Mutate(std::string s, std::mt19937_64& rng, const std::vector<std::string>& seeds) {
  int rounds = 1 + (rng() % 4 == 0 ? static_cast<int>(rng() % 3) : 0);
  for (int r = 0; r < rounds; ++r) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty()) s[pos % s.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // truncate
        s.resize(pos);
        break;
      case 2:  // insert a random byte
        s.insert(s.begin() + static_cast<long>(pos), static_cast<char>(rng() % 256));
        break;
      case 3:  // insert a JSON-ish token
        s.insert(pos, kTokens[rng() % std::size(kTokens)]);
        break;
      case 4: {  // delete a span
        size_t len = rng() % 16;
        s.erase(pos, std::min(len, s.size() - std::min(pos, s.size())));
        break;
      }
      case 5: {  // splice in a piece of another seed
        const std::string& o = seeds[rng() % seeds.size()];
        size_t from = o.empty() ? 0 : rng() % o.size();
        s.insert(pos, o.substr(from, rng() % 64));
        break;
      }
    }
  }
  return s;
}

TEST(SeccompFuzzTest, ParserNeverThrowsAndErrorsHaveContext) {
  const auto seeds = Seeds();
  std::mt19937_64 rng(0xC0DD0E);
  const auto start = std::chrono::steady_clock::now();
  int ok = 0, errors = 0, compiled = 0;
  const int kIterations = 3000;
  for (int i = 0; i < kIterations; ++i) {
    const std::string input = Mutate(seeds[rng() % seeds.size()], rng, seeds);
    LoadOptions opts;
    opts.strict = (i % 5 == 0);
    opts.source_name = "fuzz.json";
    Result<Profile> p;
    try {
      p = ParseProfile(input, opts);
    } catch (...) {
      FAIL() << "exception escaped ParseProfile at iteration " << i;
    }
    if (!p) {
      ++errors;
      ASSERT_FALSE(p.error().context.empty()) << "iteration " << i;
      ASSERT_NE(p.error().context.find("fuzz.json"), std::string::npos) << p.error().context;
      continue;
    }
    ++ok;
    // Half the successful parses also go through the compiler and the evaluator.
    if (i % 2 == 0) {
      auto c = Compile(*p, {});
      if (c) {
        ++compiled;
        EXPECT_EQ(c->bpf.size() % 8, 0u);
      } else {
        EXPECT_FALSE(c.error().context.empty());
      }
      const uint64_t args[6] = {rng(), rng(), rng(), 0, 0, 0};
      (void)Evaluate(*p, NativeAuditArch(), static_cast<int>(rng() % 460), args);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ info ] %d inputs: %d parsed, %d errors, %d compiled, %.2f s\n", kIterations, ok, errors, compiled, secs);
  EXPECT_GT(ok, 0);
  EXPECT_GT(errors, 0);
  EXPECT_LT(secs, 5.0);
}

}  // namespace
}  // namespace cordon::seccomp
