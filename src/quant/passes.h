// The quantization passes behind qaudit::Quantize, and what they share.
#ifndef QAUDIT_SRC_QUANT_PASSES_H_
#define QAUDIT_SRC_QUANT_PASSES_H_

#include <cstring>
#include <string>
#include <vector>

#include "qaudit/quantize.h"

namespace qaudit::quant {

Result<QuantizedModel> QuantizeInteger(const Graph& float_graph, const QuantizeOptions& options,
                                       const TensorRanges& ranges);
Result<QuantizedModel> QuantizeDynamic(const Graph& float_graph, const QuantizeOptions& options);
Result<QuantizedModel> QuantizeFloat16(const Graph& float_graph, const QuantizeOptions& options);

// Which operators the method may convert: all but those the deny lists name. Fails on a
// deny-list entry that matches nothing (a typo should not silently quantize everything).
Result<std::vector<bool>> ChooseIntegerOps(const Graph& graph, const QuantizeOptions& options,
                                           std::vector<std::string>& notes);

// Drops tensors no operator and no graph input or output refers to (weights a pass
// replaced), renumbering the rest; `source`, when given, is kept parallel to the tensors.
void RemoveUnusedTensors(Graph& graph, std::vector<int>* source);

// Name, description, metadata and signatures (with tensor indices mapped by name).
void CopyGraphAttributes(const Graph& src, Graph& out);

template <typename T>
std::vector<uint8_t> Pack(const std::vector<int64_t>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  for (size_t i = 0; i < values.size(); ++i) {
    const T v = static_cast<T>(values[i]);
    std::memcpy(bytes.data() + i * sizeof(T), &v, sizeof(T));
  }
  return bytes;
}

}  // namespace qaudit::quant

#endif  // QAUDIT_SRC_QUANT_PASSES_H_
