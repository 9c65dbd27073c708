// supervisor/evidence/merkle.cc: RFC 6962 tree hashing and RFC 9162 proof verification.
#include "supervisor/evidence/merkle.h"

#include <string>

#include "supervisor/sha256.h"

namespace cordon::evlog {
namespace {

// The largest power of two smaller than n (n > 1): RFC 6962's split point k.
uint64_t Split(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

void Subproof(std::span<const Hash> d, uint64_t m, bool whole, std::vector<Hash>* out) {
  const uint64_t n = d.size();
  if (m == n) {
    if (!whole) out->push_back(RootOf(d));
    return;
  }
  const uint64_t k = Split(n);
  if (m <= k) {
    Subproof(d.subspan(0, k), m, whole, out);
    out->push_back(RootOf(d.subspan(k)));
  } else {
    Subproof(d.subspan(k), m - k, false, out);
    out->push_back(RootOf(d.subspan(0, k)));
  }
}

}  // namespace

// Both hash their domain byte and input in one pass, without a joined copy: a record is ~5 KiB,
// and its copy's allocation cost cordond's loop more than the hash (perf, docs/evidence.md "Cost").
Hash LeafHash(std::string_view record) { return Sha256(std::string_view("\0", 1), record); }

Hash NodeHash(const Hash& left, const Hash& right) {
  char buf[64];
  std::copy(left.begin(), left.end(), buf);
  std::copy(right.begin(), right.end(), buf + 32);
  return Sha256(std::string_view("\1", 1), std::string_view(buf, sizeof buf));
}

Hash EmptyRoot() { return Sha256(""); }

void Frontier::Append(const Hash& leaf) {
  stack_.push_back({0, leaf});
  while (stack_.size() >= 2 && stack_[stack_.size() - 2].height == stack_.back().height) {
    const Subtree right = stack_.back();
    stack_.pop_back();
    stack_.back().hash = NodeHash(stack_.back().hash, right.hash);
    ++stack_.back().height;
  }
  ++size_;
}

Hash Frontier::Root() const {
  if (stack_.empty()) return EmptyRoot();
  // The subtrees from left to right are the binary digits of the size, largest first; RFC 6962
  // splits at the largest power of two, so folding from the right gives MTH.
  Hash r = stack_.back().hash;
  for (size_t i = stack_.size() - 1; i-- > 0;) r = NodeHash(stack_[i].hash, r);
  return r;
}

Hash RootOf(std::span<const Hash> leaves) {
  if (leaves.empty()) return EmptyRoot();
  if (leaves.size() == 1) return leaves[0];
  const uint64_t k = Split(leaves.size());
  return NodeHash(RootOf(leaves.subspan(0, k)), RootOf(leaves.subspan(k)));
}

std::vector<Hash> InclusionProof(std::span<const Hash> leaves, uint64_t index) {
  std::vector<Hash> path;
  while (leaves.size() > 1) {
    const uint64_t k = Split(leaves.size());
    if (index < k) {
      path.push_back(RootOf(leaves.subspan(k)));
      leaves = leaves.subspan(0, k);
    } else {
      path.push_back(RootOf(leaves.subspan(0, k)));
      leaves = leaves.subspan(k);
      index -= k;
    }
  }
  // Collected from the root down; the proof lists siblings from the leaf up.
  return {path.rbegin(), path.rend()};
}

bool VerifyInclusion(const Hash& leaf, uint64_t index, uint64_t size, std::span<const Hash> proof, const Hash& root) {
  if (index >= size) return false;
  uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0)
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

std::vector<Hash> ConsistencyProof(std::span<const Hash> leaves, uint64_t m) {
  std::vector<Hash> out;
  if (m == 0 || m > leaves.size()) return out;
  Subproof(leaves, m, true, &out);
  return out;
}

bool VerifyConsistency(uint64_t m, uint64_t n, const Hash& root_m, const Hash& root_n, std::span<const Hash> proof) {
  if (m == 0 || m > n) return false;
  if (m == n) return proof.empty() && root_m == root_n;
  std::vector<Hash> path(proof.begin(), proof.end());
  if ((m & (m - 1)) == 0) path.insert(path.begin(), root_m);  // m is a power of two
  if (path.empty()) return false;
  uint64_t fn = m - 1, sn = n - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0)
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == root_m && sr == root_n && sn == 0;
}

}  // namespace cordon::evlog
