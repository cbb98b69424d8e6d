#include "kernels/depthwise_int8_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "kernels/output_stage_avx512.h"

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins (_mm512_undefined_epi32); the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace {

using namespace int8_avx512;  // NOLINT(build/namespaces): the shared output stage and its block size

constexpr int kQuadBytes = kBlock * 4;  // one quad of taps for each channel of a block

int RoundUp(int x, int multiple) { return (x + multiple - 1) / multiple * multiple; }

// See Int8Depthwise.
int ChannelOfLane(int wide_channels, int vector, int lane) {
  if (vector * kBlock >= wide_channels) return vector * kBlock + lane;
  return vector / 4 * 64 + lane / 4 * 16 + vector % 4 * 4 + lane % 4;
}

// Of quad q, the bytes that hold taps (the filter's width may end inside it).
uint32_t TapBytes(int filter_w, int q) {
  const int taps = std::min(4, filter_w - 4 * q);
  return taps == 4 ? 0xFFFFFFFFu : (1u << (8 * taps)) - 1;
}

}  // namespace

Int8Depthwise PrepareInt8Depthwise(const int8_t* w, const ConvGeometry& g, const int32_t* bias,
                                   int32_t input_zero_point, const OutputStage& stage) {
  Int8Depthwise d;
  d.channels = g.out_c, d.filter_h = g.filter_h, d.filter_w = g.filter_w, d.quads = (g.filter_w + 3) / 4;
  d.wide_channels = d.quads == 1 ? d.channels / 64 * 64 : 0;
  const int vectors = RoundUp(d.channels, kBlock) / kBlock;
  d.packed.assign(static_cast<size_t>(vectors) * d.filter_h * d.quads * kQuadBytes, 0);
  d.offset.assign(static_cast<size_t>(vectors) * kBlock, 0);
  OutputStage in_lane_order = stage;
  for (int v = 0; v < vectors; ++v) {
    for (int lane = 0; lane < kBlock; ++lane) {
      const int c = ChannelOfLane(d.wide_channels, v, lane);
      if (c >= d.channels) continue;
      uint32_t sum = 0;  // modulo 2^32, as the accumulator
      for (int ky = 0; ky < d.filter_h; ++ky) {
        for (int kx = 0; kx < d.filter_w; ++kx) {
          const int8_t weight = w[(static_cast<int64_t>(ky) * d.filter_w + kx) * d.channels + c];
          const int64_t quad = (static_cast<int64_t>(v) * d.filter_h + ky) * d.quads + kx / 4;
          d.packed[quad * kQuadBytes + lane * 4 + kx % 4] = weight;
          sum += static_cast<uint32_t>(static_cast<int32_t>(weight));
        }
      }
      const uint32_t b = bias ? static_cast<uint32_t>(bias[c]) : 0;
      d.offset[v * kBlock + lane] = static_cast<int32_t>(b - static_cast<uint32_t>(input_zero_point + 128) * sum);
      if (stage.multipliers.size() > 1) in_lane_order.multipliers[v * kBlock + lane] = stage.multipliers[c];
      if (stage.scales.size() > 1) in_lane_order.scales[v * kBlock + lane] = stage.scales[c];
    }
  }
  d.requant = MakeInt8Requantization(in_lane_order);
  d.input_zero_point = input_zero_point;
  // Wide groups hold four vectors per column (their filters have one quad).
  const int column = (d.wide_channels > 0 ? 4 : d.quads) * kBlock;
  const uint32_t zp_bytes = static_cast<uint32_t>(static_cast<uint8_t>(input_zero_point + 128)) * 0x01010101u;
  d.padding_row.resize(static_cast<size_t>(g.out_w) * column);
  for (size_t i = 0; i < d.padding_row.size(); ++i) {
    const int quad = static_cast<int>(i % column / kBlock % d.quads);
    d.padding_row[i] = static_cast<int32_t>(zp_bytes & TapBytes(d.filter_w, quad));
  }
  return d;
}

namespace {

// The tap quads of the input rows one block of channels needs: a ring of `slots` rows
// (enough for the rows of one window), each as Int8Depthwise::padding_row; rows outside
// the image read that.
struct QuadRows {
  int64_t row_ints = 0;
  int slots = 0;
  std::vector<int32_t> data;  // [slots][row_ints]
  std::vector<int> held;      // the input row in each slot, -1 for none
  std::vector<const int32_t*> window;  // per filter row, the quads of the current output row's input row
  const int32_t* padding = nullptr;
};

// 16 channels of one pixel as the low bytes of int32 lanes.
template <bool kFull>
QAUDIT_VNNI inline __m512i PixelBytes(const int8_t* p, __mmask16 valid) {
  if constexpr (kFull) return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(valid, p));
}

// Quad q of the output column whose first tap is `first` (kx = 0), taps `tap` bytes apart:
// its taps OR-ed into place, then 128 added to each tap byte (x ^ 0x80 is x + 128 as
// uint8). With `inside` false, taps outside the row (column ix outside [0, in_w)) read
// the zero point.
template <int kFilterW, bool kFull>
QAUDIT_VNNI inline __m512i Quad(const int8_t* first, int64_t tap, int filter_w, int q, __mmask16 valid, bool inside,
                                int ix, int dilation, int in_w, __m512i zp) {
  __m512i quad = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const int kx = 4 * q + j;
    if (kx >= filter_w) break;
    const int at = ix + kx * dilation;
    const __m512i x = inside || (at >= 0 && at < in_w) ? PixelBytes<kFull>(first + kx * tap, valid) : zp;
    quad = j == 0 ? x : _mm512_or_si512(quad, _mm512_slli_epi32(x, 8 * j));
  }
  return _mm512_xor_si512(quad, _mm512_set1_epi32(static_cast<int32_t>(0x80808080u & TapBytes(filter_w, q))));
}

// The output columns whose taps all lie inside the image's rows: [first, second).
std::pair<int, int> InsideColumns(const ConvGeometry& g, int filter_w) {
  const int begin = std::min(g.out_w, (g.pad_left + g.stride_w - 1) / g.stride_w);
  const int last = g.in_w - 1 - (filter_w - 1) * g.dilation_w + g.pad_left;  // the largest ox * stride inside
  return {begin, last < 0 ? begin : std::clamp(last / g.stride_w + 1, begin, g.out_w)};
}

// Input row `row` (channel c of its first pixel) as quads into dst, for every output
// column. kFilterW > 0 fixes the filter's width at compile time.
template <int kFilterW, bool kFull>
QAUDIT_VNNI void BuildQuads(const ConvGeometry& g, const int8_t* row, __mmask16 valid, int32_t in_zp, int quads,
                            int32_t* dst) {
  const int filter_w = kFilterW > 0 ? kFilterW : g.filter_w;
  const int stride = g.stride_w, dilation = g.dilation_w, in_w = g.in_w, out_w = g.out_w, pad = g.pad_left;
  const int64_t pixel = g.in_c, tap = dilation * pixel;
  const auto [inside_begin, inside_end] = InsideColumns(g, filter_w);
  const __m512i zp = _mm512_set1_epi32(static_cast<uint8_t>(in_zp));
  const auto column = [&](int ox, bool inside) QAUDIT_VNNI {
    const int ix = ox * stride - pad;
    for (int q = 0; q < quads; ++q) {
      _mm512_storeu_si512(dst + (static_cast<int64_t>(ox) * quads + q) * kBlock,
                          Quad<kFilterW, kFull>(row + ix * pixel, tap, filter_w, q, valid, inside, ix, dilation, in_w, zp));
    }
  };
  for (int ox = 0; ox < inside_begin; ++ox) column(ox, false);
  if constexpr (kFilterW > 0 && kFilterW <= 4) {
    // One quad per column, every tap inside: no checks.
    const int8_t* first = row + (static_cast<int64_t>(inside_begin) * stride - pad) * pixel;
    const int64_t step = stride * pixel;
    const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u & TapBytes(kFilterW, 0)));
    int32_t* d = dst + static_cast<int64_t>(inside_begin) * kBlock;
    for (int ox = inside_begin; ox < inside_end; ++ox, first += step, d += kBlock) {
      __m512i quad = PixelBytes<kFull>(first, valid);
#pragma GCC unroll 4
      for (int j = 1; j < kFilterW; ++j) {
        quad = _mm512_or_si512(quad, _mm512_slli_epi32(PixelBytes<kFull>(first + j * tap, valid), 8 * j));
      }
      _mm512_storeu_si512(d, _mm512_xor_si512(quad, flip));
    }
  } else {
    for (int ox = inside_begin; ox < inside_end; ++ox) column(ox, true);
  }
  for (int ox = inside_end; ox < out_w; ++ox) column(ox, false);
}

// Points rows.window[ky] at the quads of the input row under filter row ky of output row
// oy's windows, building rows the ring does not hold yet with build(iy, slot's quads); rows
// outside the image read the padding row.
template <typename Build>
void SetWindowRows(const ConvGeometry& g, int oy, int filter_h, QuadRows& rows, const Build& build) {
  for (int ky = 0; ky < filter_h; ++ky) {
    const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
    if (iy < 0 || iy >= g.in_h) {
      rows.window[ky] = rows.padding;
      continue;
    }
    const int slot = iy % rows.slots;
    int32_t* quads_of_row = rows.data.data() + slot * rows.row_ints;
    if (rows.held[slot] != iy) {
      build(iy, quads_of_row);
      rows.held[slot] = iy;
    }
    rows.window[ky] = quads_of_row;
  }
}

// Output channels [c, c + 16) of one image. kFilterH, kFilterW > 0 fix the filter at
// compile time (3x3: its weights then stay in registers); kFull: all 16 channels exist.
template <int kFilterH, int kFilterW, bool kFull, Rounding R>
QAUDIT_VNNI void DepthwiseBlock(const ConvGeometry& g, const int8_t* image, int c, const Int8Depthwise& w,
                                QuadRows& rows, int8_t* out) {
  static_assert(kFilterW == 0 || kFilterW <= 4, "one quad per filter row when the width is fixed");
  const int filter_h = kFilterH > 0 ? kFilterH : g.filter_h;
  const int quads = kFilterW > 0 ? 1 : w.quads;
  const int n = std::min(kBlock, g.out_c - c);
  const __mmask16 valid = kFull ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << n) - 1);
  const int8_t* weights = w.packed.data() + static_cast<int64_t>(c / kBlock) * filter_h * quads * kQuadBytes;
  __m512i fixed_weights[kFilterH > 0 ? kFilterH : 1];
  if constexpr (kFilterH > 0) {
    for (int ky = 0; ky < kFilterH; ++ky) fixed_weights[ky] = _mm512_loadu_si512(weights + ky * kQuadBytes);
  }
  const __m512i offset = _mm512_loadu_si512(w.offset.data() + c);
  const StageRegs stage = LoadStage<R>(w.requant, c);
  std::fill(rows.held.begin(), rows.held.end(), -1);
  const auto build = [&](int iy, int32_t* dst) {
    BuildQuads<kFilterW, kFull>(g, image + static_cast<int64_t>(iy) * g.in_w * g.in_c + c, valid, w.input_zero_point,
                                quads, dst);
  };
  for (int oy = 0; oy < g.out_h; ++oy) {
    SetWindowRows(g, oy, filter_h, rows, build);
    const int out_w = g.out_w;
    const int64_t pixel = g.out_c;  // read once: the int8 stores below may alias g
    int8_t* o = out + oy * out_w * pixel + c;
    if constexpr (kFilterH > 0) {
      const int32_t* window[kFilterH];
      for (int ky = 0; ky < kFilterH; ++ky) window[ky] = rows.window[ky];
      for (int ox = 0; ox < out_w; ++ox, o += pixel) {
        __m512i acc = offset;
#pragma GCC unroll 8
        for (int ky = 0; ky < kFilterH; ++ky) {
          acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(window[ky] + ox * kBlock), fixed_weights[ky]);
        }
        StoreBytes(o, n, ApplyStage<R>(stage, acc));
      }
    } else {
      for (int ox = 0; ox < out_w; ++ox, o += pixel) {
        __m512i acc = offset;
        for (int ky = 0; ky < filter_h; ++ky) {
          const int32_t* at = rows.window[ky] + static_cast<int64_t>(ox) * quads * kBlock;
          const int8_t* wq = weights + static_cast<int64_t>(ky) * quads * kQuadBytes;
          for (int q = 0; q < quads; ++q) {
            acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(at + q * kBlock), _mm512_loadu_si512(wq + q * kQuadBytes));
          }
        }
        StoreBytes(o, n, ApplyStage<R>(stage, acc));
      }
    }
  }
}

// Input row `row` (channel c of its first pixel, c in a wide group) as quads of 64
// channels into dst, [out_w][4 vectors][16 lanes]: per tap 64 bytes, + 128, interleaved
// with the other taps by in-lane unpacks (hence the lane order of Int8Depthwise).
template <int kFilterW>
QAUDIT_VNNI void BuildWideQuads(const ConvGeometry& g, const int8_t* row, int32_t in_zp, int32_t* dst) {
  const int filter_w = kFilterW > 0 ? kFilterW : g.filter_w;
  const int64_t pixel = g.in_c, tap = static_cast<int64_t>(g.dilation_w) * pixel;
  const auto [inside_begin, inside_end] = InsideColumns(g, filter_w);
  const __m512i flip = _mm512_set1_epi8(-128), zp = _mm512_set1_epi8(static_cast<char>(in_zp + 128));
  for (int ox = 0; ox < g.out_w; ++ox) {
    const int ix = ox * g.stride_w - g.pad_left;
    const bool inside = ox >= inside_begin && ox < inside_end;
    __m512i x[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const int at = ix + j * g.dilation_w;
      if (j >= filter_w) {
        x[j] = _mm512_setzero_si512();  // against weight 0
      } else if (inside || (at >= 0 && at < g.in_w)) {
        x[j] = _mm512_xor_si512(_mm512_loadu_si512(row + ix * pixel + j * tap), flip);
      } else {
        x[j] = zp;
      }
    }
    const __m512i low01 = _mm512_unpacklo_epi8(x[0], x[1]), high01 = _mm512_unpackhi_epi8(x[0], x[1]);
    const __m512i low23 = _mm512_unpacklo_epi8(x[2], x[3]), high23 = _mm512_unpackhi_epi8(x[2], x[3]);
    int32_t* d = dst + static_cast<int64_t>(ox) * 4 * kBlock;
    _mm512_storeu_si512(d, _mm512_unpacklo_epi16(low01, low23));
    _mm512_storeu_si512(d + kBlock, _mm512_unpackhi_epi16(low01, low23));
    _mm512_storeu_si512(d + 2 * kBlock, _mm512_unpacklo_epi16(high01, high23));
    _mm512_storeu_si512(d + 3 * kBlock, _mm512_unpackhi_epi16(high01, high23));
  }
}

// Output channels [c, c + 64) of one image, a wide group. The four requantized vectors
// narrow by saturating packs, which undo the unpacks' lane order, and clamp as bytes.
template <int kFilterH, int kFilterW, Rounding R>
QAUDIT_VNNI void DepthwiseWideGroup(const ConvGeometry& g, const int8_t* image, int c, const Int8Depthwise& w,
                                    QuadRows& rows, int8_t* out) {
  const int filter_h = kFilterH > 0 ? kFilterH : g.filter_h;
  const int v0 = c / kBlock;
  const int8_t* weights = w.packed.data() + static_cast<int64_t>(v0) * filter_h * kQuadBytes;
  __m512i fixed_weights[kFilterH > 0 ? kFilterH : 1][4];
  if constexpr (kFilterH > 0) {
    for (int ky = 0; ky < kFilterH; ++ky) {
      for (int k = 0; k < 4; ++k) fixed_weights[ky][k] = _mm512_loadu_si512(weights + (k * kFilterH + ky) * kQuadBytes);
    }
  }
  __m512i offset[4];
  StageRegs stage[4];
  for (int k = 0; k < 4; ++k) {
    offset[k] = _mm512_loadu_si512(w.offset.data() + c + k * kBlock);
    stage[k] = LoadStage<R>(w.requant, c + k * kBlock);
  }
  const __m512i bounds[2] = {_mm512_set1_epi8(static_cast<char>(w.requant.act_min)),
                             _mm512_set1_epi8(static_cast<char>(w.requant.act_max))};
  std::fill(rows.held.begin(), rows.held.end(), -1);
  const auto build = [&](int iy, int32_t* dst) {
    BuildWideQuads<kFilterW>(g, image + static_cast<int64_t>(iy) * g.in_w * g.in_c + c, w.input_zero_point, dst);
  };
  for (int oy = 0; oy < g.out_h; ++oy) {
    SetWindowRows(g, oy, filter_h, rows, build);
    const int out_w = g.out_w;
    const int64_t pixel = g.out_c;  // read once: the int8 stores below may alias g
    int8_t* o = out + oy * out_w * pixel + c;
    const int32_t* window[kFilterH > 0 ? kFilterH : 1];
    if constexpr (kFilterH > 0) {
      for (int ky = 0; ky < kFilterH; ++ky) window[ky] = rows.window[ky];
    }
    for (int ox = 0; ox < out_w; ++ox, o += pixel) {
      __m512i acc[4] = {offset[0], offset[1], offset[2], offset[3]};
      if constexpr (kFilterH > 0) {
#pragma GCC unroll 8
        for (int ky = 0; ky < kFilterH; ++ky) {
          const int32_t* at = window[ky] + ox * 4 * kBlock;
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            acc[k] = _mm512_dpbusd_epi32(acc[k], _mm512_loadu_si512(at + k * kBlock), fixed_weights[ky][k]);
          }
        }
      } else {
        for (int ky = 0; ky < filter_h; ++ky) {
          const int32_t* at = rows.window[ky] + static_cast<int64_t>(ox) * 4 * kBlock;
          for (int k = 0; k < 4; ++k) {
            acc[k] = _mm512_dpbusd_epi32(acc[k], _mm512_loadu_si512(at + k * kBlock),
                                         _mm512_loadu_si512(weights + (k * filter_h + ky) * kQuadBytes));
          }
        }
      }
      __m512i v[4];
      for (int k = 0; k < 4; ++k) v[k] = ApplyStageUnclamped<R>(stage[k], acc[k]);
      StoreNarrowed<4, /*kReorder=*/false>(o, 64, v, bounds, 1);
    }
  }
}

template <int kFilterH, int kFilterW, Rounding R>
void DepthwiseImage(const ConvGeometry& g, const int8_t* image, const Int8Depthwise& w, QuadRows& rows, int8_t* out) {
  int c = 0;
  for (; c < w.wide_channels; c += 64) DepthwiseWideGroup<kFilterH, kFilterW, R>(g, image, c, w, rows, out);
  for (; c + kBlock <= g.out_c; c += kBlock) DepthwiseBlock<kFilterH, kFilterW, true, R>(g, image, c, w, rows, out);
  if (c < g.out_c) DepthwiseBlock<kFilterH, kFilterW, false, R>(g, image, c, w, rows, out);
}

}  // namespace

void DepthwiseConvInt8Vnni(const ConvGeometry& g, const int8_t* in, const Int8Depthwise& w, int8_t* out) {
  thread_local QuadRows rows;
  rows.row_ints = static_cast<int64_t>(w.padding_row.size());
  rows.slots = (g.filter_h - 1) * g.dilation_h + 1;
  rows.data.resize(static_cast<size_t>(rows.slots * rows.row_ints));
  rows.held.resize(rows.slots);
  rows.window.resize(g.filter_h);
  rows.padding = w.padding_row.data();
  const int64_t in_image = static_cast<int64_t>(g.in_h) * g.in_w * g.in_c;
  const int64_t out_image = static_cast<int64_t>(g.out_h) * g.out_w * g.out_c;
  for (int b = 0; b < g.batch; ++b) {
    DispatchRounding(w.requant.rounding, [&](auto rounding) {
      constexpr Rounding kRounding = decltype(rounding)::value;
      if constexpr (kRounding != Rounding::kInt64) {  // 16x8 only; never here
        if (g.filter_h == 3 && g.filter_w == 3) {
          DepthwiseImage<3, 3, kRounding>(g, in + b * in_image, w, rows, out + b * out_image);
        } else {
          DepthwiseImage<0, 0, kRounding>(g, in + b * in_image, w, rows, out + b * out_image);
        }
      }
    });
  }
}

}  // namespace qaudit::kernels
