// The values cordond reads from a binding marked "secret" (docs/evidence.md "Secret bindings"):
// a file's content, its lines and a .env line's value; a directory's files at the top level,
// following Kubernetes' ..data links but no link out of the directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "supervisor/evidence/secret_values.h"
#include "tests/support/run.h"

namespace cordon::evlog {
namespace {

bool Has(const SecretValues& v, const std::string& s) {
  return std::find(v.values.begin(), v.values.end(), s) != v.values.end();
}

TEST(EvidenceSecretValues, AFileGivesItsContentItsLinesAndItsAssignedValues) {
  SecretValues v;
  SecretValuesOf("  tok-abcdef-123\n", "f", &v);
  EXPECT_EQ(v.values, std::vector<std::string>{"tok-abcdef-123"});
  SecretValues env;
  SecretValuesOf("# db\nDB_PASSWORD=\"pa55-w0rd-x\"\nAPI_KEY: key-778899\nX=abc\n", "env", &env);
  EXPECT_TRUE(Has(env, "DB_PASSWORD=\"pa55-w0rd-x\"")) << ::testing::PrintToString(env.values);
  EXPECT_TRUE(Has(env, "pa55-w0rd-x"));
  EXPECT_TRUE(Has(env, "key-778899"));
  EXPECT_FALSE(Has(env, "# db"));
  EXPECT_FALSE(Has(env, "abc"));  // too short to redact: said so
  ASSERT_FALSE(env.notes.empty());
  EXPECT_NE(env.notes[0].find("too short"), std::string::npos) << env.notes[0];
}

TEST(EvidenceSecretValues, ADirectoryGivesItsFilesButNoLinkOutOfIt) {
  const std::string top = cordon::test::FreshTempDir("secret-values");
  const std::string d = top + "/secrets", outside = top + "/outside";
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((d + "/..2026_12_07").c_str(), 0700), 0);
  std::ofstream(d + "/..2026_12_07/token") << "k8s-style-token-1234\n";
  ASSERT_EQ(::symlink("..2026_12_07", (d + "/..data").c_str()), 0);
  ASSERT_EQ(::symlink("..data/token", (d + "/token").c_str()), 0);
  std::ofstream(d + "/plain") << "plain-secret-5678";
  std::ofstream(outside) << "not-a-secret-of-this-binding";
  ASSERT_EQ(::symlink(outside.c_str(), (d + "/escape").c_str()), 0);
  Binding b;
  b.name = "creds";
  b.kind = Binding::Kind::kDir;
  b.source = d;
  b.secret = true;
  SecretValues v = ReadSecretBindingAt(b);
  EXPECT_TRUE(Has(v, "k8s-style-token-1234")) << ::testing::PrintToString(v.values);
  EXPECT_TRUE(Has(v, "plain-secret-5678"));
  EXPECT_FALSE(Has(v, "not-a-secret-of-this-binding"));
  b.secret = false;
  EXPECT_TRUE(ReadSecretBindingAt(b).values.empty());
}

}  // namespace
}  // namespace cordon::evlog
