// Element types, shapes and quantization parameters: the vocabulary every module shares.
#ifndef QAUDIT_TENSOR_H_
#define QAUDIT_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qaudit {

// The element types qaudit represents. Their order is qaudit's own; the .tflite reader
// and writer translate to and from the file's numbering.
enum class DType : uint8_t { kFloat32, kFloat16, kInt32, kUInt8, kInt64, kInt16, kInt8, kBool };

size_t DTypeSize(DType dtype);
const char* DTypeName(DType dtype);  // "float32", "int8", ... (NumPy's names)
std::optional<DType> DTypeFromName(const std::string& name);

using Shape = std::vector<int32_t>;

// Product of the dimensions, or -1 when a dimension is negative or the product overflows
// int64 (callers treat -1 as invalid).
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[1,224,224,3]"

// real = (q - zero_point) * scale, per tensor (one scale) or per axis (one scale per slice
// along `quantized_dimension`). `min`/`max` are the float ranges that training or the
// converter recorded, kept so that a model reads and writes back unchanged.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
  std::vector<float> min;
  std::vector<float> max;

  bool empty() const { return scale.empty() && zero_point.empty() && min.empty() && max.empty(); }
  bool has_scale() const { return !scale.empty(); }
  bool per_axis() const { return scale.size() > 1; }
  float scale_at(size_t i) const { return scale.size() == 1 ? scale[0] : scale[i]; }
  int64_t zero_point_at(size_t i) const {
    if (zero_point.empty()) return 0;
    return zero_point.size() == 1 ? zero_point[0] : zero_point[i];
  }
  bool operator==(const QuantParams&) const = default;
};

// A dense host tensor: the unit of input and output.
struct HostTensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<uint8_t> bytes;

  int64_t num_elements() const { return NumElements(shape); }
  template <typename T>
  T* data() { return reinterpret_cast<T*>(bytes.data()); }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
};

}  // namespace qaudit

#endif  // QAUDIT_TENSOR_H_
