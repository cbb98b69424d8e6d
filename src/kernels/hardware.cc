#include "qaudit/hardware.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <utility>

#include "kernels/add_avx512.h"
#include "kernels/conv_small_channels_avx512.h"
#include "kernels/depthwise_avx512.h"
#include "kernels/int8_gemm.h"
#include "kernels/mean_avx512.h"
#include "kernels/pooling_avx512.h"
#include "kernels/quantize_avx512.h"
#include "kernels/sgemm.h"
#include "kernels/winograd_avx512.h"

namespace qaudit {
namespace {

// Enough independent accumulators to cover the latency of every unit (4-5 cycles, two
// pipes). The empty asm statements take some accumulators as inputs, so the loop cannot be
// folded away; as in-out operands GCC kept accumulators in memory (a third of VNNI's rate).
constexpr int kChains = 12;

__attribute__((target("avx512f"))) int64_t Fp32Avx512(int64_t steps) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    asm volatile("" ::"v"(acc[0]), "v"(acc[6]), "v"(acc[11]));
  }
  asm volatile("" ::"v"(acc[1]), "v"(acc[2]), "v"(acc[3]), "v"(acc[4]), "v"(acc[5]), "v"(acc[7]), "v"(acc[8]),
               "v"(acc[9]), "v"(acc[10]));
  return steps * kChains * 16;
}

__attribute__((target("avx2,fma"))) int64_t Fp32Avx2(int64_t steps) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-4f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    asm volatile("" ::"v"(acc[0]), "v"(acc[6]), "v"(acc[11]));
  }
  asm volatile("" ::"v"(acc[1]), "v"(acc[2]), "v"(acc[3]), "v"(acc[4]), "v"(acc[5]), "v"(acc[7]), "v"(acc[8]),
               "v"(acc[9]), "v"(acc[10]));
  return steps * kChains * 8;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) int64_t Int8Vnni(int64_t steps) {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], x, y);
    asm volatile("" ::"v"(acc[0]), "v"(acc[6]), "v"(acc[11]));
  }
  asm volatile("" ::"v"(acc[1]), "v"(acc[2]), "v"(acc[3]), "v"(acc[4]), "v"(acc[5]), "v"(acc[7]), "v"(acc[8]),
               "v"(acc[9]), "v"(acc[10]));
  return steps * kChains * 64;
}

// 32 multiply-accumulates per three instructions: u8 x s8 pairs summed to s16, those
// pairs summed to s32, then accumulated.
__attribute__((target("avx2"))) int64_t Int8Avx2(int64_t steps) {
  constexpr int kPairs = kChains / 2;  // each chain holds three live registers
  __m256i acc[kPairs];
  for (int i = 0; i < kPairs; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 6
    for (int i = 0; i < kPairs; ++i) {
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
    }
    asm volatile("" ::"v"(acc[0]), "v"(acc[3]), "v"(acc[5]));
  }
  asm volatile("" ::"v"(acc[1]), "v"(acc[2]), "v"(acc[4]));
  return steps * kPairs * 32;
}

int64_t Fp32Scalar(int64_t steps) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = static_cast<float>(i);
  for (int64_t s = 0; s < steps; ++s) {
    for (float& a : acc) a = a * 0.999f + 1e-4f;
    asm volatile("" : : "r"(acc) : "memory");
  }
  return steps * kChains;
}

int64_t Int8Scalar(int64_t steps) {
  int32_t acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = i;
  for (int64_t s = 0; s < steps; ++s) {
    for (int32_t& a : acc) a += static_cast<int8_t>(a) * 3;
    asm volatile("" : : "r"(acc) : "memory");
  }
  return steps * kChains;
}

// Multiply-accumulates per second of `loop`: the best of three runs of about `seconds`.
double Rate(int64_t (*loop)(int64_t), double seconds) {
  using Clock = std::chrono::steady_clock;
  int64_t steps = 1000;
  double best = 0;
  for (int run = 0; run < 4; ++run) {
    const auto start = Clock::now();
    const int64_t macs = loop(steps);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (run > 0) best = std::max(best, macs / elapsed);  // the first run sizes the others
    steps = std::max<int64_t>(1000, static_cast<int64_t>(steps * seconds / std::max(elapsed, 1e-9)));
  }
  return best;
}

}  // namespace

std::string FastKernelInstructions() {
  // Each kernel family's own run-time check, so this summary cannot drift from what runs.
  const std::pair<bool, const char*> families[] = {
      {kernels::Int8GemmAvailable(), "int8 convolutions, depthwise and fully-connected (VNNI)"},
      {kernels::AddQuantizedAvx512Available(), "8-bit ADD"},
      {kernels::QuantizeAvx512Available(), "QUANTIZE"},
      {kernels::ByteLookupAvx512Available() && kernels::AddQuantizedTableAvx512Available(),
       "8-bit table lookups (QUANTIZE, ADD; VBMI)"},
      {kernels::SumMiddleAxisAvx512Available(), "8-bit MEAN"},
      {kernels::MaxPoolAvx512Available(), "max pooling"},
      {kernels::SgemmUsesAvx512() && kernels::WinogradConvFloatAvx512Available() &&
           kernels::ConvSmallChannelsAvx512Available() && kernels::DepthwiseConvFloatAvx512Available(),
       "float convolutions and matrix products"},
  };
  std::string on;
  int count = 0;
  for (const auto& [available, name] : families) {
    if (!available) continue;
    on += (count++ > 0 ? ", " : "") + std::string(name);
  }
  if (count == static_cast<int>(std::size(families))) return "AVX-512 with VNNI and VBMI";
  if (count == 0) return "none (portable kernels only)";
  return "AVX-512 for " + on + "; the rest portable";
}

PeakRates MeasurePeakRates(double seconds_per_loop) {
  __builtin_cpu_init();
  PeakRates r;
  if (__builtin_cpu_supports("avx512f")) {
    r.fp32_instructions = "AVX-512 FMA";
    r.fp32_macs_per_second = Rate(Fp32Avx512, seconds_per_loop);
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    r.fp32_instructions = "AVX2 FMA";
    r.fp32_macs_per_second = Rate(Fp32Avx2, seconds_per_loop);
  } else {
    r.fp32_instructions = "scalar";
    r.fp32_macs_per_second = Rate(Fp32Scalar, seconds_per_loop);
  }
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
    r.int8_instructions = "AVX-512 VNNI";
    r.int8_macs_per_second = Rate(Int8Vnni, seconds_per_loop);
  } else if (__builtin_cpu_supports("avx2")) {
    r.int8_instructions = "AVX2";
    r.int8_macs_per_second = Rate(Int8Avx2, seconds_per_loop);
  } else {
    r.int8_instructions = "scalar";
    r.int8_macs_per_second = Rate(Int8Scalar, seconds_per_loop);
  }
  return r;
}

}  // namespace qaudit
