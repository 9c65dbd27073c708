// supervisor/evidence/merkle.h: RFC 6962 / RFC 9162 Merkle tree hashing over the evidence log's
// records, with domain separation: a leaf is SHA-256(0x00 || record bytes), an inner node
// SHA-256(0x01 || left || right), the empty tree SHA-256(""). Inclusion and consistency proofs
// are RFC 9162 sections 2.1.3 and 2.1.4, verified with its algorithms. Pure code.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cordon::evlog {

using Hash = std::array<uint8_t, 32>;

Hash LeafHash(std::string_view record);
Hash NodeHash(const Hash& left, const Hash& right);
Hash EmptyRoot();

// The tree's right edge (one perfect subtree root per set bit of the size): appending a leaf and
// reading the root of the tree so far are O(log n), so a verifier checks every checkpoint of a
// log in one pass over its records.
class Frontier {
 public:
  void Append(const Hash& leaf);
  Hash Root() const;
  uint64_t size() const { return size_; }

 private:
  struct Subtree {
    unsigned height;
    Hash hash;
  };
  std::vector<Subtree> stack_;
  uint64_t size_ = 0;
};

// MTH(D[n]) of RFC 6962 over leaf hashes.
Hash RootOf(std::span<const Hash> leaves);
// PATH(index, D[n]); `index` < leaves.size().
std::vector<Hash> InclusionProof(std::span<const Hash> leaves, uint64_t index);
bool VerifyInclusion(const Hash& leaf, uint64_t index, uint64_t size, std::span<const Hash> proof, const Hash& root);
// PROOF(m, D[n]): the later tree of size leaves.size() extends the one of size m (0 < m <= n).
std::vector<Hash> ConsistencyProof(std::span<const Hash> leaves, uint64_t m);
bool VerifyConsistency(uint64_t m, uint64_t n, const Hash& root_m, const Hash& root_n, std::span<const Hash> proof);

}  // namespace cordon::evlog
