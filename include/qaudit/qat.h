// Quantization-aware training: fake-quant transforms on a train::Model, with TensorFlow's
// FakeQuantWithMinMaxVars semantics, and export through the same quantize pass as the int8
// method, so that what training simulated is what the int8 model computes.
//
// What is fake-quantized is exactly what the int8 model quantizes: the model input (its
// QUANTIZE), every conv/depthwise/FC weight tensor (per channel, symmetric, narrow range:
// int8 in [-127, 127]; per tensor for FC as TFLite's default), and every layer output the
// exported graph keeps as a tensor (after fused activations and folded batch norms).
// Max pooling and reshapes keep their input's grid and get no transform.
#ifndef QAUDIT_QAT_H_
#define QAUDIT_QAT_H_

#include <memory>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/quantize.h"
#include "qaudit/train.h"

namespace qaudit::qat {

enum class RangeMode {
  // tfmot's MovingAverageQuantizer: ranges follow an exponential moving average of each
  // batch's min and max (forced to include 0) and receive no gradient.
  kMovingAverage,
  // Learned ranges (PACT/LSQ-style): min and max are trainable and get FakeQuant's range
  // gradients (the gradients of the values clipped below or above).
  kLearned,
};

enum class BatchNormHandling {
  // Fold each batch norm into the conv before it during training, weights fake-quantized
  // after folding: the exported int8 weights are the simulated ones.
  kFoldFirst,
  // tfmot's default: weights fake-quantized before folding, batch norm applied after, its
  // output quantized; the converter folds afterwards, so the int8 weights differ from the
  // simulated ones (the gap this audit measures).
  kTfmot,
};

struct QatOptions {
  RangeMode range_mode = RangeMode::kMovingAverage;
  float ema_decay = 0.999f;  // tfmot's default
  // kMovingAverage: start the average at [-6, 6] as tfmot does, instead of at the first
  // batch's range.
  bool tfmot_initial_range = false;
  BatchNormHandling batch_norm = BatchNormHandling::kFoldFirst;
  // Per-channel FC weights (TFLite's default is per tensor).
  bool per_channel_fully_connected = false;
};

// The transforms attached to a model, kept to read the learned ranges at export.
class QatModel {
 public:
  // Attaches fake-quant transforms to `model` (which must outlive this object).
  static Result<std::unique_ptr<QatModel>> Prepare(train::Model& model, const QatOptions& options);
  ~QatModel();

  // The current activation ranges, by layer index.
  std::vector<std::pair<int, FloatRange>> LayerRanges() const;

  // The int8 model: the float export of the model (batch norms folded with running
  // statistics), with a SOFTMAX appended when asked (FromGraph took one off), quantized by
  // the int8 method with the ranges training arrived at.
  Result<QuantizedModel> Export(const QuantizeOptions& options = {}, bool append_softmax = false) const;

 private:
  struct Impl;
  explicit QatModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qaudit::qat

#endif  // QAUDIT_QAT_H_
