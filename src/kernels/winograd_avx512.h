// Float CONV_2D with 3x3 filters, stride 1 and no dilation, by Winograd's F(2x2, 3x3): each
// 2x2 block of output pixels takes 16 multiplies per (input, output) channel pair instead
// of 36. im2col + Sgemm already runs at the FMA peak, so only fewer multiplies make these
// layers faster.
//
// Per image, the output is cut into 2x2 tiles starting at output pixel (0, 0); tile (ty, tx)
// reads the 4x4 input window whose corner is input pixel (2 ty - pad_top, 2 tx - pad_left),
// with zeros for pixels outside the image. With the usual matrices
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// V = B^T d B (per input channel), U = G g G^T (per channel pair, computed once in double
// and rounded once), M[e] = sum over input channels of V[e] U[e] for each of the 16
// positions e (a matrix product over channels, with FMA), and the tile's output is
// clamp(A^T M A + bias). Output rows and columns past the image are computed and dropped.
//
// Numerics: not bit-exact with ConvFloat (nor is the Sgemm path). Output pixel (i, j) of a
// tile depends only on its own 3x3 window, as in the direct convolution, but the rounding
// errors scale with the sum of |x_p| |w_q| over pixels p of the window and all taps q
// weighted by |A^T| |B^T| |G| (the cross terms the transforms cancel exactly in real
// arithmetic), about 7 times the direct sum of |x| |w| when pixels and taps are of similar
// size. First order, the error is at most (in_c + 8) * 2^-24 times that sum plus |bias|:
// two roundings in V, one in U, in_c in the channel sum, four in A^T M A and one for the
// bias. An infinity or NaN in the input makes exactly the outputs whose window holds it
// non-finite, as in the reference, but an infinity may come out as NaN (the transforms
// subtract it from itself); near float's overflow the two may overflow at different
// outputs.
//
// Results do not depend on the batch size or on which thread runs an image: each image is
// cut into the same tile blocks and summed in the same order. Scratch is thread_local.
// Callers check WinogradConvFloatAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_WINOGRAD_AVX512_H_
#define QAUDIT_SRC_KERNELS_WINOGRAD_AVX512_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "kernels/conv.h"

namespace qaudit::kernels {

bool WinogradConvFloatAvx512Available();  // AVX-512 F

// Whether a convolution is one Winograd F(2x2, 3x3) computes (3x3, stride 1, dilation 1)
// and one where it pays: a first layer's single input channel makes 16 products of depth
// one per tile, all transform and no arithmetic, so fewer than 8 input channels stay on
// im2col + Sgemm.
bool WinogradConvFloatSuits(const ConvGeometry& g);

// Storage on 64-byte boundaries, copies included (the op's EvalFn holds a copy), so that
// the kernel's loads of U never straddle cache lines.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
};

// The transformed weights U, [16][in_c][out_c_stride] with out_c_stride the output channels
// rounded up to 16 (zeros after out_c).
struct WinogradWeights {
  int in_c = 0, out_c = 0, out_c_stride = 0;
  std::vector<float, CacheLineAllocator<float>> u;
  const float* data() const { return u.data(); }
};

// `w` is TFLite's OHWI [out_c][3][3][in_c]. Portable code: no AVX-512 needed.
WinogradWeights PrepareWinogradWeights(const float* w, int in_c, int out_c);

// Same arguments as ConvFloatSgemm, with the weights as PrepareWinogradWeights made them
// (for g.in_c and g.out_c); `bias` may be null. Needs g.filter_h = g.filter_w = 3 and
// stride and dilation 1; any batch, size, padding and channel counts.
void WinogradConvFloatAvx512(const ConvGeometry& g, const float* in, const WinogradWeights& u, const float* bias,
                             float act_min, float act_max, float* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_WINOGRAD_AVX512_H_
