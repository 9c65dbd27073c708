// Rotating the token signing key (supervisor/token/rotation.h) on real files: the old key stays in
// the published set, so tokens it signed keep verifying, until every token it may have signed has
// expired; then it leaves. A new token is signed by the new key, which the old set does not know.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "supervisor/token/jwt.h"
#include "supervisor/token/rotation.h"
#include "tests/support/run.h"

namespace cordon::token {
namespace {

Claims At(int64_t now) {
  Claims c;
  c.iss = "cordond", c.sub = "ci/app/tester", c.aud = "svc", c.iat = c.nbf = now, c.exp = now + 300;
  c.jti = "0123456789abcdef0123456789abcdef", c.task_id = "t", c.task_class = "batch", c.policy = "p";
  c.policy_sha256 = std::string(64, 'a');
  return c;
}

std::vector<PublicKey> JwksFile(const std::string& dir) {
  std::ifstream f(dir + "/jwks.json");
  std::stringstream s;
  s << f.rdbuf();
  auto keys = ParseJwks(s.str());
  EXPECT_TRUE(keys) << s.str();
  return keys ? *keys : std::vector<PublicKey>{};
}

TEST(TokenRotation, OldKeyStaysPublishedUntilItsTokensExpire) {
  std::string dir = test::WriteTempFile("token-rotation-marker", "") + ".d";
  const int64_t now = 1'800'000'000;
  auto old = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_TRUE(old) << old.error().Message();
  auto old_token = Mint(*old, At(now));
  ASSERT_TRUE(old_token);
  const auto before = JwksFile(dir);
  ASSERT_EQ(before.size(), 1u);

  auto r = RotateSigningKey(dir, now);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_EQ(r->old_kid, old->public_key().kid);
  EXPECT_NE(r->new_kid, r->old_kid);
  EXPECT_EQ(r->old_until, now + kRetiredKeyLifeS);
  struct stat st{};
  ASSERT_EQ(::stat((dir + "/signing-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto fresh = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->public_key().kid, r->new_kid) << "the next token is signed by the new key";
  auto new_token = Mint(*fresh, At(now));
  ASSERT_TRUE(new_token);
  // Published: the new key first, then the retired one; both tokens verify against the set.
  auto published = PublishedKeys(dir, fresh->public_key(), now);
  ASSERT_TRUE(published);
  ASSERT_EQ(published->size(), 2u);
  EXPECT_EQ((*published)[0].kid, r->new_kid);
  EXPECT_EQ((*published)[1].kid, r->old_kid);
  VerifyOptions vo;
  vo.now = now + 10;
  EXPECT_TRUE(Verify(*old_token, *published, vo)) << "a token of the retired key still verifies";
  EXPECT_TRUE(Verify(*new_token, *published, vo));
  EXPECT_FALSE(Verify(*new_token, before, vo)) << "the old key set does not know the new key";
  // jwks.json on disk is that set (as of the real clock, the retired key is within its life).
  EXPECT_EQ(JwksFile(dir).size(), 2u);

  // Once every token it may have signed has expired, the retired key leaves the set.
  auto later = PublishedKeys(dir, fresh->public_key(), now + kRetiredKeyLifeS + 1);
  ASSERT_TRUE(later);
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].kid, r->new_kid);

  // A second rotation keeps both earlier keys while they are within their lives.
  auto r2 = RotateSigningKey(dir, now + 60);
  ASSERT_TRUE(r2);
  auto third = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_TRUE(third);
  auto all = PublishedKeys(dir, third->public_key(), now + 120);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
  test::RunProgram({"/bin/rm", "-rf", dir});
}

TEST(TokenRotation, ADamagedRetiredKeyFileIsRefusedNamingIt) {
  std::string dir = test::WriteTempFile("token-rotation-damaged-marker", "") + ".d";
  auto k = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_TRUE(k);
  std::ofstream(dir + "/retired-keys.json") << R"({"keys": [{"kty": "OKP", "x": "short", "exp": 1}]})";
  auto p = PublishedKeys(dir, k->public_key(), 0);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().Message().find("retired-keys.json"), std::string::npos) << p.error().Message();
  test::RunProgram({"/bin/rm", "-rf", dir});
}

}  // namespace
}  // namespace cordon::token
