// QUANTIZE with AVX-512. float -> int8 (a model's float input enters this way, once per
// sample): QuantizeFloat<int8_t> (quantize.h) in every QuantizeRule, NaN, infinities and
// ties included, 16 values per step instead of a call to std::round per value. Callers
// check QuantizeAvx512Available(). 8-bit -> 8-bit: any map given as a 256-entry table
// (Prepare computes it with the reference kernel), 64 bytes per step; callers check
// ByteLookupAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_QUANTIZE_AVX512_H_
#define QAUDIT_SRC_KERNELS_QUANTIZE_AVX512_H_

#include <immintrin.h>

#include <cstdint>

#include "kernels/quantize.h"

namespace qaudit::kernels {

bool QuantizeAvx512Available();  // AVX-512 F, BW and VL
void QuantizeFloatToInt8Avx512(const float* x, int64_t n, float scale, int32_t zero_point, QuantizeRule rule,
                               int8_t* q);

bool ByteLookupAvx512Available();  // AVX-512 F, BW and VBMI

// out[i] = table[in[i]] for i < n; `table` has 256 entries. in and out may be the same.
void LookUpBytesAvx512(const uint8_t* table, int64_t n, const uint8_t* in, uint8_t* out);

// table[index] for each of the 64 bytes of `index`, the 256-byte table given as four
// registers (entries 0-63, 64-127, 128-191, 192-255). Inline for other kernels' tables
// (ADD); callers check ByteLookupAvx512Available().
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) inline __m512i LookUp64Bytes(const __m512i table[4],
                                                                                     __m512i index) {
  // vpermi2b picks one of 128 bytes by the index's low 7 bits; the top bit picks the half.
  const __m512i low = _mm512_permutex2var_epi8(table[0], index, table[1]);
  const __m512i high = _mm512_permutex2var_epi8(table[2], index, table[3]);
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(index), low, high);
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_QUANTIZE_AVX512_H_
