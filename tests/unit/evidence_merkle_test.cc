// The evidence log's tree hashing against RFC 6962's published test vectors (the eight leaves of
// certificate-transparency's merkle tests), and its inclusion and consistency proofs, each
// checked for every (index, size) and (m, n) up to 33 leaves and refused when anything changes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::evlog {
namespace {

std::string Hex(const Hash& h) { return HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())); }

const std::vector<std::string> kLeaves = {
    "", std::string("\x00", 1), "\x10", "\x20\x21", "\x30\x31", "\x40\x41\x42\x43", "\x50\x51\x52\x53\x54\x55\x56\x57",
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
const char* kRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

std::vector<Hash> Leaves(size_t n) {
  std::vector<Hash> out;
  for (size_t i = 0; i < n; ++i) out.push_back(LeafHash("record " + std::to_string(i)));
  return out;
}

TEST(EvidenceMerkle, Rfc6962Vectors) {
  EXPECT_EQ(Hex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Frontier f;
  std::vector<Hash> hashes;
  for (size_t i = 0; i < kLeaves.size(); ++i) {
    hashes.push_back(LeafHash(kLeaves[i]));
    f.Append(hashes.back());
    EXPECT_EQ(Hex(f.Root()), kRoots[i]) << "frontier, " << i + 1 << " leaves";
    EXPECT_EQ(Hex(RootOf(hashes)), kRoots[i]) << "MTH, " << i + 1 << " leaves";
  }
}

TEST(EvidenceMerkle, FrontierMatchesTheTreeForEverySize) {
  const auto leaves = Leaves(70);
  Frontier f;
  for (size_t n = 1; n <= leaves.size(); ++n) {
    f.Append(leaves[n - 1]);
    ASSERT_EQ(f.Root(), RootOf(std::span(leaves).first(n))) << n;
  }
}

TEST(EvidenceMerkle, InclusionProofsVerifyAndRefuseChanges) {
  const auto all = Leaves(33);
  for (uint64_t n = 1; n <= all.size(); ++n) {
    const auto leaves = std::span(all).first(n);
    const Hash root = RootOf(leaves);
    for (uint64_t i = 0; i < n; ++i) {
      auto proof = InclusionProof(leaves, i);
      ASSERT_TRUE(VerifyInclusion(leaves[i], i, n, proof, root)) << i << "/" << n;
      EXPECT_FALSE(VerifyInclusion(LeafHash("other"), i, n, proof, root));
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(leaves[i], (i + 1) % n, n, proof, root)) << i << "/" << n;
      }
      if (!proof.empty()) {
        proof[0][0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, proof, root));
      }
    }
  }
}

TEST(EvidenceMerkle, ConsistencyProofsVerifyAndRefuseARewrittenHistory) {
  const auto all = Leaves(33);
  auto rewritten = all;
  rewritten[2] = LeafHash("rewritten");
  for (uint64_t n = 1; n <= all.size(); ++n)
    for (uint64_t m = 1; m <= n; ++m) {
      const auto proof = ConsistencyProof(std::span(all).first(n), m);
      const Hash rm = RootOf(std::span(all).first(m)), rn = RootOf(std::span(all).first(n));
      ASSERT_TRUE(VerifyConsistency(m, n, rm, rn, proof)) << m << "->" << n;
      if (m > 2) {
        // The earlier tree's record 2 differs from the later one's: no proof makes them consistent.
        const Hash old_m = RootOf(std::span(rewritten).first(m));
        EXPECT_FALSE(VerifyConsistency(m, n, old_m, rn, proof)) << m << "->" << n;
      }
    }
}

TEST(EvidenceEncoding, Base64RoundTripsAndRefusesNonCanonicalText) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_FALSE(Base64Decode("Zm9=").has_value());  // non-zero bits under the padding
  EXPECT_FALSE(Base64Decode("Zm8").has_value());
  EXPECT_FALSE(Base64Decode("Zm 8=").has_value());
  EXPECT_EQ(*HexDecode("00ff"), std::string("\x00\xff", 2));
  EXPECT_FALSE(HexDecode("0F").has_value());
}

}  // namespace
}  // namespace cordon::evlog
