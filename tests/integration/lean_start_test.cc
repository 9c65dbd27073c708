// tests/integration/lean_start_test.cc: what a one-shot `cordon run` does not do at its start
// (docs/performance.md "Issue 22"): it does not initialise libcrypto's EVP layer, which read
// openssl.cnf, loaded the default provider and cost ~1.3 ms of CPU per run, for a few SHA-256s.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

// A configuration OpenSSL refuses (diagnostics on, a provider section naming a module that does
// not exist): any initialisation of the EVP layer fails on it, and the CLI that used EVP for its
// hashes stopped with SIGABRT. The hashes in the evidence are still there, and still SHA-256.
TEST(LeanStart, RunNeverLoadsTheOpenSslConfiguration) {
  REQUIRE_SANDBOX();
  const std::string conf = WriteTempFile("openssl.cnf",
                                         "config_diagnostics = 1\n"
                                         "openssl_conf = cordon_test\n"
                                         "[cordon_test]\n"
                                         "providers = cordon_test_providers\n"
                                         "[cordon_test_providers]\n"
                                         "no_such_provider = no_such_provider_section\n"
                                         "[no_such_provider_section]\n"
                                         "activate = 1\n");
  RunOptions o;
  o.env = EnvWith("OPENSSL_CONF=" + conf);
  auto r = CordonRun({"/bin/true"}, {"--evidence", "-"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "policy/sha256").size(), 64u) << ev;
  EXPECT_EQ(JsonField(ev, "seccomp/profile_sha256").size(), 64u) << ev;
}

}  // namespace
}  // namespace cordon::test
