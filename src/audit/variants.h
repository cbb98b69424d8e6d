// Deployment data as the audit varies it, and contaminated calibration sets. All shifts
// act on real-valued model inputs (after preprocessing), so that they can leave the range
// the calibration data had: the int8 model's input quantizer then clips, the float model
// does not.
#ifndef QAUDIT_SRC_AUDIT_VARIANTS_H_
#define QAUDIT_SRC_AUDIT_VARIANTS_H_

#include <cstdint>
#include <random>
#include <vector>

#include "qaudit/audit.h"
#include "qaudit/tensor.h"

namespace qaudit::audit {

// Float32 samples [N, ...] with one label each (labels may be empty for unlabelled data).
struct LabelledBatch {
  HostTensor samples;
  std::vector<int32_t> labels;
  int64_t size() const { return samples.shape.empty() ? 0 : samples.shape[0]; }
};

// The same uniform and normal draws on every platform (the standard distributions are
// implementation-defined).
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double Uniform() { return (engine_() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  int64_t Below(int64_t n) { return static_cast<int64_t>(Uniform() * n); }
  double Normal();  // Box-Muller

 private:
  std::mt19937_64 engine_;
};

// A stable 64-bit hash of text (FNV-1a), to derive per-cell seeds from the plan's seed.
uint64_t HashText(const std::string& text, uint64_t seed);

// The samples `indices` of `batch`, in that order.
LabelledBatch TakeSamples(const LabelledBatch& batch, const std::vector<int64_t>& indices);

// `clean` shifted as `variant` says. `low`/`high` are the clean data's value range, the
// scale every magnitude in ShiftSettings is relative to. kLongTail needs labels.
Result<LabelledBatch> ApplyVariant(const LabelledBatch& clean, Variant variant, const ShiftSettings& shifts, float low,
                                   float high, uint64_t seed);

// `samples` with every value clamped to [low, high].
HostTensor Clamp(const HostTensor& samples, float low, float high);

}  // namespace qaudit::audit

#endif  // QAUDIT_SRC_AUDIT_VARIANTS_H_
