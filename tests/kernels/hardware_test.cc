// MeasurePeakRates names the instructions this CPU offers and measures a positive rate
// for each; the rates themselves are timings and are not checked against any figure.
#include "qaudit/hardware.h"

#include <gtest/gtest.h>

namespace qaudit {
namespace {

TEST(PeakRateTest, UsesTheWidestInstructionsAndMeasuresBoth) {
  __builtin_cpu_init();
  const PeakRates r = MeasurePeakRates(0.002);
  EXPECT_GT(r.fp32_macs_per_second, 0);
  EXPECT_GT(r.int8_macs_per_second, 0);
  EXPECT_DOUBLE_EQ(r.int8_over_fp32(), r.int8_macs_per_second / r.fp32_macs_per_second);
  EXPECT_EQ(r.fp32_instructions, __builtin_cpu_supports("avx512f")                                   ? "AVX-512 FMA"
                                 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "AVX2 FMA"
                                                                                                   : "scalar");
  EXPECT_EQ(r.int8_instructions, __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")
                                     ? "AVX-512 VNNI"
                                 : __builtin_cpu_supports("avx2") ? "AVX2"
                                                                  : "scalar");
  EXPECT_EQ(PeakRates{}.int8_over_fp32(), 0);  // unmeasured: no ratio
}

}  // namespace
}  // namespace qaudit
