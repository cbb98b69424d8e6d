#include "kernels/winograd_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512F __attribute__((target("avx512f")))

bool WinogradConvFloatAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

bool WinogradConvFloatSuits(const ConvGeometry& g) {
  return g.filter_h == 3 && g.filter_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && g.in_c >= 8;
}

namespace {

constexpr int kLanes = 16;
constexpr int kPositions = 16;  // the 4x4 positions e of a transformed tile
// A micro-kernel tile of M is up to kRows tiles x kCols * 16 output channels: 24
// accumulators, kCols vectors of U and the broadcast value in 29 of the 32 zmm registers.
constexpr int kRows = 6;
constexpr int kCols = 4;
// V and M of one block of tiles stay under about this many bytes (in L2), so that the
// input transform's stores are still cached when the products read them, and so on.
constexpr int64_t kBlockBytes = 192 * 1024;
constexpr int kMaxBlockTiles = 96;

int RoundUp(int n, int m) { return (n + m - 1) / m * m; }

// The first 64-byte aligned float at or after p (p has 15 floats to spare).
template <typename T>
T* Aligned64(T* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<T*>((address + 63) & ~uintptr_t{63});
}

__mmask16 Prefix(int n) { return n >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << n) - 1); }

// M[r][j] = sum over k < depth of V[r][k] * U[k][j] for R rows (tiles) and NV * 16 columns
// (output channels); row r of V starts at v + r * v_stride, row k of U at u + k * u_stride.
template <int R, int NV>
QAUDIT_AVX512F void MultiplyTile(int depth, const float* v, int64_t v_stride, const float* u, int64_t u_stride,
                                 float* m, int64_t m_stride) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  for (int k = 0; k < depth; ++k) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) b[j] = _mm512_load_ps(u + k * u_stride + j * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(v[r * v_stride + k]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_fmadd_ps(a, b[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + r * m_stride + j * kLanes, acc[r][j]);
  }
}

using MultiplyFn = void (*)(int, const float*, int64_t, const float*, int64_t, float*, int64_t);

template <int NV, int... R>
constexpr std::array<MultiplyFn, kRows> MultipliesOfWidth(std::integer_sequence<int, R...>) {
  return {MultiplyTile<R + 1, NV>...};
}

// kMultiply[nv - 1][r - 1] computes r rows and nv vectors of columns.
constexpr std::array<std::array<MultiplyFn, kRows>, kCols> kMultiply = {
    MultipliesOfWidth<1>(std::make_integer_sequence<int, kRows>()),
    MultipliesOfWidth<2>(std::make_integer_sequence<int, kRows>()),
    MultipliesOfWidth<3>(std::make_integer_sequence<int, kRows>()),
    MultipliesOfWidth<4>(std::make_integer_sequence<int, kRows>())};

// The shape of one image's work, the same for every image and every thread.
struct Plan {
  int tiles_x = 0, tiles = 0;
  int in_vectors = 0, in_stride = 0;    // V rows: input channels rounded up to 16
  int out_vectors = 0, out_stride = 0;  // M rows and U rows
  int block = 0;                        // tiles per block
};

Plan MakePlan(const ConvGeometry& g) {
  Plan p;
  p.tiles_x = (g.out_w + 1) / 2;
  p.tiles = p.tiles_x * ((g.out_h + 1) / 2);
  p.in_vectors = (g.in_c + kLanes - 1) / kLanes, p.in_stride = p.in_vectors * kLanes;
  p.out_vectors = (g.out_c + kLanes - 1) / kLanes, p.out_stride = p.out_vectors * kLanes;
  const int64_t bytes_per_tile = int64_t{kPositions} * (p.in_stride + p.out_stride) * sizeof(float);
  const int most =
      static_cast<int>(std::clamp<int64_t>(kBlockBytes / bytes_per_tile / kRows * kRows, kRows, kMaxBlockTiles));
  // Blocks of even size, so that the last one is not a sliver of a few tiles.
  const int blocks = std::max(1, (p.tiles + most - 1) / most);
  p.block = (p.tiles + blocks - 1) / blocks;
  return p;
}

// Rows [2 ty - pad_top, 2 ty - pad_top + 4) of the image, columns from -pad_left on for
// 2 tiles_x + 2 pixels, with zeros outside the image and after in_c: the input windows of
// tile row ty at fixed offsets, read with whole aligned vectors and no bounds checks.
QAUDIT_AVX512F void FillBand(const ConvGeometry& g, const Plan& p, const float* image, int ty, float* band) {
  const int width = 2 * p.tiles_x + 2;
  const int64_t row = static_cast<int64_t>(g.in_w) * g.in_c;
  const __m512 zero = _mm512_setzero_ps();
  for (int dy = 0; dy < 4; ++dy) {
    const int y = 2 * ty - g.pad_top + dy;
    float* out = band + static_cast<int64_t>(dy) * width * p.in_stride;
    for (int bx = 0; bx < width; ++bx, out += p.in_stride) {
      const int x = bx - g.pad_left;
      if (y < 0 || y >= g.in_h || x < 0 || x >= g.in_w) {
        for (int c = 0; c < p.in_stride; c += kLanes) _mm512_store_ps(out + c, zero);
        continue;
      }
      const float* in = image + y * row + static_cast<int64_t>(x) * g.in_c;
      for (int c = 0; c < p.in_stride; c += kLanes) {
        _mm512_store_ps(out + c, _mm512_maskz_loadu_ps(Prefix(g.in_c - c), in + c));
      }
    }
  }
}

// V = B^T d B of tiles [t0, t0 + count) of one image into v[e][i][c] (row i for tile t0 + i,
// rows of p.in_stride floats, positions e apart by e_stride floats).
QAUDIT_AVX512F void TransformInput(const ConvGeometry& g, const Plan& p, const float* image, int t0, int count,
                                   float* band, float* v, int64_t e_stride, int64_t tile_stride) {
  const int64_t stride = p.in_stride, band_row = (2 * p.tiles_x + 2) * stride;
  int band_ty = -1;
  for (int i = 0; i < count; ++i) {
    const int ty = (t0 + i) / p.tiles_x, tx = (t0 + i) % p.tiles_x;
    if (ty != band_ty) FillBand(g, p, image, band_ty = ty, band);
    const float* d0 = band + 2 * tx * stride;  // the window's top left pixel
    const float* d1 = d0 + band_row;
    const float* d2 = d1 + band_row;
    const float* d3 = d2 + band_row;
    float* vi = v + i * tile_stride;
    for (int c = 0; c < stride; c += kLanes) {
      __m512 t[4][4];  // B^T d, column by column
      for (int dx = 0; dx < 4; ++dx) {
        const __m512 x0 = _mm512_load_ps(d0 + dx * stride + c), x1 = _mm512_load_ps(d1 + dx * stride + c);
        const __m512 x2 = _mm512_load_ps(d2 + dx * stride + c), x3 = _mm512_load_ps(d3 + dx * stride + c);
        t[0][dx] = _mm512_sub_ps(x0, x2);
        t[1][dx] = _mm512_add_ps(x1, x2);
        t[2][dx] = _mm512_sub_ps(x2, x1);
        t[3][dx] = _mm512_sub_ps(x1, x3);
      }
      for (int r = 0; r < 4; ++r) {
        float* out = vi + r * 4 * e_stride + c;
        _mm512_store_ps(out, _mm512_sub_ps(t[r][0], t[r][2]));
        _mm512_store_ps(out + e_stride, _mm512_add_ps(t[r][1], t[r][2]));
        _mm512_store_ps(out + 2 * e_stride, _mm512_sub_ps(t[r][2], t[r][1]));
        _mm512_store_ps(out + 3 * e_stride, _mm512_sub_ps(t[r][1], t[r][3]));
      }
    }
  }
}

// M[e] = V[e] U[e] for the `count` tiles of a block.
QAUDIT_AVX512F void MultiplyBlock(const ConvGeometry& g, const Plan& p, const float* v, int64_t v_e_stride,
                                  int64_t v_tile_stride, const float* u, int count, float* m, int64_t m_e_stride,
                                  int64_t m_tile_stride) {
  const int64_t u_e_stride = static_cast<int64_t>(g.in_c) * p.out_stride;
  for (int e = 0; e < kPositions; ++e) {
    for (int cv = 0; cv < p.out_vectors; cv += kCols) {
      const int nv = std::min(kCols, p.out_vectors - cv);
      const float* ue = u + e * u_e_stride + cv * kLanes;
      // Groups of nearly equal size (19 tiles: 5, 5, 5, 4, not 6, 6, 6 and a lone tile, whose
      // one accumulator chain per vector would wait on the FMA latency).
      const int groups = (count + kRows - 1) / kRows;
      for (int group = 0, r = 0; group < groups; ++group) {
        const int rows = count / groups + (group < count % groups ? 1 : 0);
        kMultiply[nv - 1][rows - 1](g.in_c, v + e * v_e_stride + r * v_tile_stride, v_tile_stride, ue, p.out_stride,
                                    m + e * m_e_stride + r * m_tile_stride + cv * kLanes, m_tile_stride);
        r += rows;
      }
    }
  }
}

// Y = A^T M A + bias, clamped, into the output pixels of the block's tiles that lie inside
// the output image.
QAUDIT_AVX512F void TransformOutput(const ConvGeometry& g, const Plan& p, const float* m, int64_t e_stride,
                                    int64_t tile_stride, int t0, int count, const float* bias, float act_min,
                                    float act_max, float* image) {
  const __m512 lo = _mm512_set1_ps(act_min), hi = _mm512_set1_ps(act_max);
  const int64_t row = static_cast<int64_t>(g.out_w) * g.out_c;
  for (int i = 0; i < count; ++i) {
    const int ty = (t0 + i) / p.tiles_x, tx = (t0 + i) % p.tiles_x;
    const int oy = 2 * ty, ox = 2 * tx;
    const bool second_row = oy + 1 < g.out_h, second_column = ox + 1 < g.out_w;
    float* o = image + oy * row + static_cast<int64_t>(ox) * g.out_c;
    const float* mi = m + i * tile_stride;
    for (int cv = 0; cv < p.out_vectors; ++cv) {
      const int c = cv * kLanes;
      const __mmask16 mask = Prefix(g.out_c - c);
      __m512 s0[4], s1[4];  // A^T M
      for (int col = 0; col < 4; ++col) {
        const float* mc = mi + col * e_stride + c;
        const __m512 m0 = _mm512_load_ps(mc), m1 = _mm512_load_ps(mc + 4 * e_stride);
        const __m512 m2 = _mm512_load_ps(mc + 8 * e_stride), m3 = _mm512_load_ps(mc + 12 * e_stride);
        s0[col] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s1[col] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
      }
      const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + c) : _mm512_setzero_ps();
      __m512 y[2][2];
      y[0][0] = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]);
      y[0][1] = _mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]);
      y[1][0] = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]);
      y[1][1] = _mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]);
      for (int dy = 0; dy < 1 + second_row; ++dy) {
        for (int dx = 0; dx < 1 + second_column; ++dx) {
          // min(max(v, lo), hi) as the reference's std::min(std::max(...)): NaN stays NaN.
          const __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(y[dy][dx], b)));
          float* out = o + dy * row + dx * g.out_c + c;
          if (mask == 0xFFFF) {
            _mm512_storeu_ps(out, v);
          } else {
            _mm512_mask_storeu_ps(out, mask, v);
          }
        }
      }
    }
  }
}

}  // namespace

WinogradWeights PrepareWinogradWeights(const float* w, int in_c, int out_c) {
  WinogradWeights u;
  u.in_c = in_c, u.out_c = out_c, u.out_c_stride = RoundUp(out_c, kLanes);
  const int64_t e_stride = static_cast<int64_t>(in_c) * u.out_c_stride;
  u.u.assign(kPositions * e_stride, 0.0f);
  float* data = u.u.data();
  // In double, then rounded once: U's error is then half a float ulp plus a double's few.
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int oc = 0; oc < out_c; ++oc) {
    for (int ic = 0; ic < in_c; ++ic) {
      double g[3][3];
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) g[ky][kx] = w[((static_cast<int64_t>(oc) * 3 + ky) * 3 + kx) * in_c + ic];
      }
      double gg[4][3];  // G g
      for (int r = 0; r < 4; ++r) {
        for (int kx = 0; kx < 3; ++kx) gg[r][kx] = kG[r][0] * g[0][kx] + kG[r][1] * g[1][kx] + kG[r][2] * g[2][kx];
      }
      for (int r = 0; r < 4; ++r) {
        for (int c = 0; c < 4; ++c) {
          const double value = gg[r][0] * kG[c][0] + gg[r][1] * kG[c][1] + gg[r][2] * kG[c][2];
          data[(r * 4 + c) * e_stride + static_cast<int64_t>(ic) * u.out_c_stride + oc] = static_cast<float>(value);
        }
      }
    }
  }
  return u;
}

QAUDIT_AVX512F void WinogradConvFloatAvx512(const ConvGeometry& g, const float* in, const WinogradWeights& u,
                                            const float* bias, float act_min, float act_max, float* out) {
  const Plan p = MakePlan(g);
  if (p.tiles == 0) return;
  // V and M are [16][block][channels], each position's matrix in one piece for the products
  // (tile-major [block][16][channels] measured the same).
  const int64_t v_e_stride = static_cast<int64_t>(p.block) * p.in_stride, v_tile_stride = p.in_stride;
  const int64_t m_e_stride = static_cast<int64_t>(p.block) * p.out_stride, m_tile_stride = p.out_stride;
  thread_local std::vector<float> band_storage, v_storage, m_storage;
  const size_t band_size = static_cast<size_t>(4) * (2 * p.tiles_x + 2) * p.in_stride;
  band_storage.resize(std::max(band_storage.size(), band_size + 15));
  v_storage.resize(std::max<size_t>(v_storage.size(), static_cast<size_t>(kPositions) * p.block * p.in_stride + 15));
  m_storage.resize(std::max<size_t>(m_storage.size(), static_cast<size_t>(kPositions) * p.block * p.out_stride + 15));
  float* band = Aligned64(band_storage.data());
  float* v = Aligned64(v_storage.data());
  float* m = Aligned64(m_storage.data());
  const int64_t in_image = static_cast<int64_t>(g.in_h) * g.in_w * g.in_c;
  const int64_t out_image = static_cast<int64_t>(g.out_h) * g.out_w * g.out_c;
  for (int b = 0; b < g.batch; ++b) {
    for (int t0 = 0; t0 < p.tiles; t0 += p.block) {
      const int count = std::min(p.block, p.tiles - t0);
      TransformInput(g, p, in + b * in_image, t0, count, band, v, v_e_stride, v_tile_stride);
      MultiplyBlock(g, p, v, v_e_stride, v_tile_stride, u.data(), count, m, m_e_stride, m_tile_stride);
      TransformOutput(g, p, m, m_e_stride, m_tile_stride, t0, count, bias, act_min, act_max, out + b * out_image);
    }
  }
}

}  // namespace qaudit::kernels
