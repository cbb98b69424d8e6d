// Quantized 8-bit ADD and SUB without broadcasting, 16 or 64 elements per AVX-512 step.
// The reference kernels (add.h) run one element at a time through three scalar fixed-point
// multiplications; these compute the same integers, bit for bit, in both rule sets:
// AddQuantized (TFLite's double rounding) and AddQuantizedXnnpack.
#ifndef QAUDIT_SRC_KERNELS_ADD_AVX512_H_
#define QAUDIT_SRC_KERNELS_ADD_AVX512_H_

#include <array>
#include <cstdint>

#include "kernels/add.h"

namespace qaudit::kernels {

bool AddQuantizedAvx512Available();  // AVX-512 F, BW and VL

// AddQuantized<T> over `n` elements of same-shaped a, b and out. REQUIRES: p.left_shift
// <= 22, so that (x - zero_point) * 2^left_shift fits in int32 as the reference assumes.
void AddQuantizedAvx512(int64_t n, const int8_t* a, const int8_t* b, const QuantizedAddParams& p, int8_t* out);
void AddQuantizedAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const QuantizedAddParams& p, uint8_t* out);

// AddQuantized<T> with each input's rescaled value (RescaleAddInput) looked up instead of
// computed: it depends on the input's byte alone, so Prepare computes all 256 with the
// reference arithmetic and only the output multiplication is left per element. The
// tables hold the int32 values as four byte planes, which vpermi2b looks up 64 at a time.
bool AddQuantizedTableAvx512Available();  // AVX-512 F, BW, VL and VBMI

struct AddTables {
  // a_planes[k][u]: byte k of the rescaled value of the `a` whose byte is u. b's values
  // are negated (mod 2^32, as the int32 difference wraps) for SUB, so the kernel adds.
  std::array<std::array<uint8_t, 256>, 4> a_planes, b_planes;
  QuantizedMultiplier out_multiplier;
  int32_t out_zero_point = 0, act_min = 0, act_max = 0;
};

template <typename T>  // int8_t or uint8_t
AddTables MakeAddTables(const QuantizedAddParams& p) {
  static_assert(sizeof(T) == 1);
  AddTables t;
  for (int u = 0; u < 256; ++u) {
    const int32_t a_scaled = RescaleAddInput(static_cast<T>(u), p.a_zero_point, p.left_shift, p.a_multiplier);
    const auto b_scaled =
        static_cast<uint32_t>(RescaleAddInput(static_cast<T>(u), p.b_zero_point, p.left_shift, p.b_multiplier));
    const uint32_t values[2] = {static_cast<uint32_t>(a_scaled), p.subtract ? 0u - b_scaled : b_scaled};
    for (int k = 0; k < 4; ++k) {
      t.a_planes[k][u] = static_cast<uint8_t>(values[0] >> (8 * k));
      t.b_planes[k][u] = static_cast<uint8_t>(values[1] >> (8 * k));
    }
  }
  t.out_multiplier = p.out_multiplier;
  t.out_zero_point = p.out_zero_point, t.act_min = p.act_min, t.act_max = p.act_max;
  return t;
}

// AddQuantized<T> over `n` elements of same-shaped a, b and out; `t` from MakeAddTables<T>.
void AddQuantizedTableAvx512(int64_t n, const int8_t* a, const int8_t* b, const AddTables& t, int8_t* out);
void AddQuantizedTableAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const AddTables& t, uint8_t* out);

// AddQuantizedXnnpack<T> over `n` elements of same-shaped a, b and out.
void AddQuantizedXnnpackAvx512(int64_t n, const int8_t* a, const int8_t* b, const XnnpackAddParams& p, int8_t* out);
void AddQuantizedXnnpackAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const XnnpackAddParams& p,
                               uint8_t* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_ADD_AVX512_H_
