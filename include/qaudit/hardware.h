// What this machine offers qaudit's kernels: the instruction sets the fast kernels find,
// and the multiply-accumulate throughput one core reaches, measured: the
// ceiling any int8 or fp32 kernel can approach, and their ratio, the most int8 arithmetic
// alone can gain over fp32 here. Each figure is the best of a few short loops over
// independent register accumulators (no memory traffic) in the widest instructions the
// CPU has: fp32 by AVX-512 or AVX2 FMA, int8 by AVX-512 VNNI (vpdpbusd) or AVX2
// (vpmaddubsw + vpmaddwd), scalar code otherwise. The ratio differs between CPUs with the
// same instructions (about 4 on the AMD Zen 4 cores qaudit is developed on, 2.8 on others),
// so it is measured rather than quoted.
#ifndef QAUDIT_PEAK_RATE_H_
#define QAUDIT_PEAK_RATE_H_

#include <string>

namespace qaudit {

struct PeakRates {
  double fp32_macs_per_second = 0, int8_macs_per_second = 0;
  std::string fp32_instructions, int8_instructions;  // e.g. "AVX-512 FMA", "AVX-512 VNNI"
  double int8_over_fp32() const { return fp32_macs_per_second > 0 ? int8_macs_per_second / fp32_macs_per_second : 0; }
};

// Takes about 6 * `seconds_per_loop` seconds (the default: 60 ms).
PeakRates MeasurePeakRates(double seconds_per_loop = 0.01);

// The instruction sets the fast kernels use on this CPU, for people: "AVX-512 with VNNI and VBMI"
// (every fast kernel), fewer, or "none (portable kernels only)". Each kernel checks its
// own features at run time; this summarises those checks.
std::string FastKernelInstructions();

}  // namespace qaudit

#endif  // QAUDIT_PEAK_RATE_H_
