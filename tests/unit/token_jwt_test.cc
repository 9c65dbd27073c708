// The identity token itself: mint and verify round trip, and each reason a verifier refuses one
// (expired, not yet valid, other audience, tampered, unknown key, alg other than EdDSA), the key
// set's JSON, and the key files cordond keeps.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "supervisor/token/base64url.h"
#include "supervisor/token/jwt.h"
#include "tests/support/run.h"

namespace cordon::token {
namespace {

VerifyOptions At(int64_t now, std::string audience = "") {
  VerifyOptions o;
  o.now = now;
  o.audience = std::move(audience);
  return o;
}

Claims Sample(int64_t now) {
  Claims c;
  c.iss = "cordond";
  c.sub = "ci/app/tester";
  c.aud = "billing";
  c.iat = c.nbf = now;
  c.exp = now + 300;
  c.jti = "0123456789abcdef0123456789abcdef";
  c.task_id = "00112233445566778899aabbccddeeff";
  c.task_class = "batch";
  c.policy = "ident";
  c.policy_sha256 = std::string(64, 'a');
  c.capabilities = {"token:billing", "outbound:127.0.0.1:80"};
  return c;
}

TEST(TokenJwt, MintedTokenVerifiesWithItsClaims) {
  auto key = SigningKey::Generate();
  ASSERT_TRUE(key) << key.error().Message();
  auto tok = Mint(*key, Sample(1000));
  ASSERT_TRUE(tok);
  auto v = Verify(*tok, {key->public_key()}, {.now = 1100, .audience = "billing", .issuer = "cordond"});
  ASSERT_TRUE(v) << v.error().Message();
  EXPECT_EQ(v->claims.sub, "ci/app/tester");
  EXPECT_EQ(v->claims.task_id, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(v->claims.exp, 1300);
  EXPECT_EQ(v->payload["cordon"]["capabilities"][0], "token:billing");
  EXPECT_FALSE(v->payload["cordon"].contains("session")) << "no session: the member is left out";
}

TEST(TokenJwt, RefusesExpiredEarlyAndOtherAudience) {
  auto key = SigningKey::Generate();
  auto tok = Mint(*key, Sample(1000));
  auto late = Verify(*tok, {key->public_key()}, At(1300));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().context, "token expired 0 s ago");
  auto early = Verify(*tok, {key->public_key()}, At(990));
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().context.find("not valid before"), std::string::npos);
  auto other = Verify(*tok, {key->public_key()}, At(1000, "reports"));
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().context.find("audience 'billing'"), std::string::npos);
}

TEST(TokenJwt, RefusesTamperedClaimsOtherKeysAndOtherAlgorithms) {
  auto key = SigningKey::Generate();
  auto other = SigningKey::Generate();
  auto tok = Mint(*key, Sample(1000));
  const size_t d1 = tok->find('.'), d2 = tok->rfind('.');
  // The same signature over claims naming another audience.
  Claims forged = Sample(1000);
  forged.aud = "admin";
  std::string forged_payload = Base64UrlEncode(ClaimsJson(forged).dump());
  std::string tampered = tok->substr(0, d1 + 1) + forged_payload + tok->substr(d2);
  auto t = Verify(tampered, {key->public_key()}, At(1000));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().context, "signature does not verify");
  // Another key set: no key of that kid.
  auto k = Verify(*tok, {other->public_key()}, At(1000));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().context.find("no key with the token's kid"), std::string::npos);
  // Another key under the same kid still fails the signature.
  PublicKey swapped{key->public_key().kid, other->public_key().raw};
  EXPECT_FALSE(Verify(*tok, {swapped}, At(1000)));
  // "alg": "none" with no signature.
  std::string none = Base64UrlEncode(R"({"alg":"none","kid":")" + key->public_key().kid + "\"}") + "." +
                     tok->substr(d1 + 1, d2 - d1 - 1) + ".";
  auto n = Verify(none, {key->public_key()}, At(1000));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().context, "the token's alg is not EdDSA");
  EXPECT_FALSE(Verify("not-a-token", {key->public_key()}, At(1000)));
}

TEST(TokenJwt, KeySetRoundTripsAndSkipsOtherKeyTypes) {
  auto key = SigningKey::Generate();
  std::string jwks = JwksJson({key->public_key()});
  auto j = nlohmann::json::parse(jwks);
  j["keys"].push_back({{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}, {"kid", "rsa"}});
  auto keys = ParseJwks(j.dump());
  ASSERT_TRUE(keys) << keys.error().Message();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].kid, key->public_key().kid);
  EXPECT_EQ((*keys)[0].raw, key->public_key().raw);
  EXPECT_EQ(key->public_key().kid, Thumbprint(key->public_key().raw));
  EXPECT_FALSE(ParseJwks(R"({"keys": []})"));
  EXPECT_FALSE(ParseJwks("{"));
}

TEST(TokenJwt, KeyFilesAreCreatedPrivateAndReloaded) {
  std::string dir = test::WriteTempFile("token-keydir-marker", "");
  dir += ".d";
  auto first = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_TRUE(first) << first.error().Message();
  struct stat st{};
  ASSERT_EQ(::stat((dir + "/signing-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir + "/jwks.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto again = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->public_key().kid, first->public_key().kid) << "the same key after a restart";
  std::ifstream f(dir + "/jwks.json");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  auto keys = ParseJwks(text);
  ASSERT_TRUE(keys);
  auto tok = Mint(*again, Sample(1000));
  EXPECT_TRUE(Verify(*tok, *keys, At(1000))) << "the published key set verifies what the reloaded key signs";
  // A key others may read is refused, not used.
  ::chmod((dir + "/signing-key.pem").c_str(), 0644);
  auto loose = SigningKey::LoadOrCreate(dir, nullptr);
  ASSERT_FALSE(loose);
  EXPECT_NE(loose.error().context.find("readable or writable by group or others"), std::string::npos);
  test::RunProgram({"/bin/rm", "-rf", dir});
}

TEST(TokenBase64Url, RoundTripAndStrictDecoding) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00", 3)})
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v="));  // padding
  EXPECT_FALSE(Base64UrlDecode("Zm9+"));   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // non-zero leftover bits: a second spelling of "f"
}

}  // namespace
}  // namespace cordon::token
