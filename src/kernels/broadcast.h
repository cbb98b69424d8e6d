// Index plans for binary elementwise ops with NumPy broadcasting (up to 6 dimensions).
#ifndef QAUDIT_SRC_KERNELS_BROADCAST_H_
#define QAUDIT_SRC_KERNELS_BROADCAST_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace qaudit::kernels {

inline constexpr int kMaxBroadcastRank = 6;

struct BroadcastPlan {
  bool same_shape = true;  // no broadcasting: walk all three flat
  int64_t size = 0;        // output elements
  int rank = 0;
  std::array<int64_t, kMaxBroadcastRank> dims{}, a_strides{}, b_strides{};
};

// Returns false when the shapes do not broadcast to `out` or the rank is too large.
inline bool MakeBroadcastPlan(const std::vector<int32_t>& a, const std::vector<int32_t>& b,
                              const std::vector<int32_t>& out, BroadcastPlan* plan) {
  const int rank = static_cast<int>(out.size());
  if (rank > kMaxBroadcastRank || a.size() > out.size() || b.size() > out.size()) return false;
  BroadcastPlan p;
  p.rank = rank;
  p.same_shape = a == out && b == out;
  for (int i = 0; i < rank; ++i) {
    const int ai = i - (rank - static_cast<int>(a.size()));
    const int bi = i - (rank - static_cast<int>(b.size()));
    const int64_t ad = ai >= 0 ? a[ai] : 1, bd = bi >= 0 ? b[bi] : 1;
    if ((ad != out[i] && ad != 1) || (bd != out[i] && bd != 1)) return false;
  }
  // An empty output ([0, 2^31-1, ...]) has nothing to visit; its other dimensions would
  // overflow the products below. Otherwise every product is at most the element count.
  if (std::find(out.begin(), out.end(), 0) != out.end()) {
    p.size = 0;
    *plan = p;
    return true;
  }
  p.size = 1;
  for (int32_t d : out) p.size *= d;
  int64_t a_stride = 1, b_stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int ai = i - (rank - static_cast<int>(a.size()));
    const int bi = i - (rank - static_cast<int>(b.size()));
    const int64_t ad = ai >= 0 ? a[ai] : 1, bd = bi >= 0 ? b[bi] : 1;
    p.dims[i] = out[i];
    p.a_strides[i] = ad == 1 ? 0 : a_stride;
    p.b_strides[i] = bd == 1 ? 0 : b_stride;
    a_stride *= ad;
    b_stride *= bd;
  }
  *plan = p;
  return true;
}

// Calls fn(out_index, a_index, b_index) for every output element, in order.
template <typename Fn>
void ForEachBroadcast(const BroadcastPlan& p, Fn&& fn) {
  if (p.same_shape) {
    for (int64_t i = 0; i < p.size; ++i) fn(i, i, i);
    return;
  }
  std::array<int64_t, kMaxBroadcastRank> idx{};
  int64_t ai = 0, bi = 0;
  for (int64_t o = 0; o < p.size; ++o) {
    fn(o, ai, bi);
    for (int d = p.rank - 1; d >= 0; --d) {
      ai += p.a_strides[d];
      bi += p.b_strides[d];
      if (++idx[d] < p.dims[d]) break;
      ai -= p.a_strides[d] * p.dims[d];
      bi -= p.b_strides[d] * p.dims[d];
      idx[d] = 0;
    }
  }
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_BROADCAST_H_
