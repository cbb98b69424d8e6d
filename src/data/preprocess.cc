// Preprocessing specs, and fitting a dataset to a model input: shape, then values, then
// layout.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "data/spec_text.h"
#include "qaudit/data.h"

namespace qaudit {
namespace {

using spec_text::ParseInt;
using spec_text::ParseNumber;
using spec_text::Split;

float HalfToFloat(uint16_t half) {
  const int exponent = (half >> 10) & 0x1f, mantissa = half & 0x3ff;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
  } else if (exponent == 31) {
    value = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    value = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
  }
  return (half & 0x8000) ? -value : value;
}

std::optional<float> ElementAsFloat(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kFloat16: return HalfToFloat(t.data<uint16_t>()[i]);
    case DType::kUInt8: return static_cast<float>(t.data<uint8_t>()[i]);
    case DType::kInt8: return static_cast<float>(t.data<int8_t>()[i]);
    case DType::kInt16: return static_cast<float>(t.data<int16_t>()[i]);
    case DType::kInt32: return static_cast<float>(t.data<int32_t>()[i]);
    case DType::kInt64: return static_cast<float>(t.data<int64_t>()[i]);
    case DType::kBool: return std::nullopt;
  }
  return std::nullopt;
}

template <typename T>
void StoreQuantized(HostTensor& out, int64_t i, float real, float scale, int64_t zero_point) {
  const double q = std::round(static_cast<double>(real) / scale) + static_cast<double>(zero_point);  // half away from zero
  const double clamped = std::clamp(q, static_cast<double>(std::numeric_limits<T>::min()),
                                    static_cast<double>(std::numeric_limits<T>::max()));
  out.data<T>()[i] = static_cast<T>(clamped);
}

// The shape of one sample of a batch [N, ...].
Shape SampleShapeOf(const Shape& batch_shape) { return Shape(batch_shape.begin() + 1, batch_shape.end()); }

// [N,H,W] or [N,H,W,C] uint8 images brought to the channels and size the input or
// `preprocess` asks for, as [N,H,W,C]; other data unchanged.
Result<HostTensor> FitImages(HostTensor data, const Shape& target, const InputSpec& input, const Preprocess& preprocess,
                             const std::string& source) {
  const size_t rank = data.shape.size();
  const bool images = data.dtype == DType::kUInt8 && (rank == 3 || (rank == 4 && (data.shape[3] == 1 || data.shape[3] == 3)));
  const bool nchw = preprocess.layout == Preprocess::Layout::kNCHW;
  const bool asked = preprocess.resize_height > 0 || preprocess.channels > 0 || nchw;
  if (!images || target.size() != 3 || (!asked && NumElements(SampleShapeOf(data.shape)) == NumElements(target))) return data;
  const int height = preprocess.resize_height ? preprocess.resize_height : target[nchw ? 1 : 0];
  const int width = preprocess.resize_width ? preprocess.resize_width : target[nchw ? 2 : 1];
  const int channels = preprocess.channels ? preprocess.channels : target[nchw ? 0 : 2];
  if (channels != 1 && channels != 3) {
    return Status::InvalidArgument(source + ": input '" + input.name + "' " + ShapeToString(input.shape) + " takes " +
                                   std::to_string(channels) + " channels; images have 1 (grey) or 3 (rgb)");
  }
  const int in_height = data.shape[1], in_width = data.shape[2], in_channels = rank == 4 ? data.shape[3] : 1;
  HostTensor out;
  out.dtype = DType::kUInt8;
  out.shape = {data.shape[0], height, width, channels};
  const size_t in_bytes = static_cast<size_t>(in_height) * in_width * in_channels;
  for (int32_t n = 0; n < data.shape[0]; ++n) {
    HostTensor image;
    image.dtype = DType::kUInt8;
    image.shape = {in_height, in_width, in_channels};
    image.bytes.assign(data.bytes.begin() + n * in_bytes, data.bytes.begin() + (n + 1) * in_bytes);
    image = ConvertImageChannels(image, channels);
    if (in_height != height || in_width != width) image = ResizeImage(image, height, width);
    out.bytes.insert(out.bytes.end(), image.bytes.begin(), image.bytes.end());
  }
  return out;
}

// The values of `data` in input.dtype: as they are, shifted (raw uint8 into int8), as
// float32 reals, or quantized.
Result<HostTensor> FitValues(const HostTensor& data, const InputSpec& input, const Preprocess& preprocess,
                             const std::string& source) {
  const int64_t count = data.num_elements();
  const int64_t per_sample = NumElements(SampleShapeOf(data.shape));
  const std::string where = source + " for input '" + input.name + "'";
  // Non-finite floats would poison calibration and outputs alike, so they are refused
  // even when the data is passed through.
  if (data.dtype == DType::kFloat32 || data.dtype == DType::kFloat16) {
    for (int64_t i = 0; i < count; ++i) {
      if (!std::isfinite(*ElementAsFloat(data, i))) {
        return Status::InvalidArgument(source + ": sample " + std::to_string(i / per_sample) + " element " +
                                       std::to_string(i % per_sample) + " is " + std::to_string(*ElementAsFloat(data, i)));
      }
    }
  }
  if (data.dtype == input.dtype && !preprocess.normalises()) return data;
  if (preprocess.raw) {
    if (data.dtype != DType::kUInt8 || input.dtype != DType::kInt8) {
      return Status::InvalidArgument(where + ": raw feeds data in the input's dtype or uint8 into int8, not " +
                                     DTypeName(data.dtype) + " into " + DTypeName(input.dtype));
    }
    HostTensor out = data;
    out.dtype = DType::kInt8;
    for (int64_t i = 0; i < count; ++i) out.data<int8_t>()[i] = static_cast<int8_t>(data.data<uint8_t>()[i] - 128);
    return out;
  }
  if (data.dtype == DType::kBool) return Status::Unsupported(where + ": bool data cannot be converted to " + DTypeName(input.dtype));
  const bool to_float = input.dtype == DType::kFloat32;
  const bool to_quantized = input.dtype == DType::kInt8 || input.dtype == DType::kUInt8 || input.dtype == DType::kInt16;
  if (!to_float && !to_quantized) {
    return Status::Unsupported(where + ": " + DTypeName(data.dtype) + " data cannot feed a " + DTypeName(input.dtype) +
                               " input; give " + DTypeName(input.dtype) + " data");
  }
  if (to_quantized && !input.quant.has_scale()) {
    return Status::InvalidArgument(where + ": the " + DTypeName(input.dtype) + " input has no quantization scale, so " +
                                   DTypeName(data.dtype) + " data cannot be quantized for it; give " +
                                   DTypeName(input.dtype) + " data");
  }
  if (to_quantized && input.quant.per_axis()) {
    return Status::Unsupported(where + ": quantizing data for a per-axis quantized input");
  }
  const int channels = data.shape.size() >= 2 ? data.shape.back() : 1;
  for (const auto* values : {&preprocess.mean, &preprocess.std}) {
    if (values->size() > 1 && static_cast<int>(values->size()) != channels) {
      return Status::InvalidArgument(where + ": " + std::to_string(values->size()) + " mean or std values for " +
                                     std::to_string(channels) + " channels (the last dimension of " +
                                     ShapeToString(SampleShapeOf(data.shape)) + ")");
    }
  }
  const float scale = preprocess.scale.value_or(data.dtype == DType::kUInt8 ? 1.0f / 255.0f : 1.0f);
  auto per_channel = [&](const std::vector<float>& values, int64_t i, float fallback) {
    return values.empty() ? fallback : values.size() == 1 ? values[0] : values[i % channels];
  };
  HostTensor out;
  out.dtype = input.dtype;
  out.shape = data.shape;
  out.bytes.resize(static_cast<size_t>(count) * DTypeSize(input.dtype));
  const float q_scale = to_quantized ? input.quant.scale[0] : 1.0f;
  const int64_t q_zero_point = input.quant.zero_point_at(0);
  for (int64_t i = 0; i < count; ++i) {
    const float real = (*ElementAsFloat(data, i) * scale - per_channel(preprocess.mean, i, 0.0f)) /
                       per_channel(preprocess.std, i, 1.0f);
    switch (input.dtype) {
      case DType::kFloat32: out.data<float>()[i] = real; break;
      case DType::kInt8: StoreQuantized<int8_t>(out, i, real, q_scale, q_zero_point); break;
      case DType::kUInt8: StoreQuantized<uint8_t>(out, i, real, q_scale, q_zero_point); break;
      case DType::kInt16: StoreQuantized<int16_t>(out, i, real, q_scale, q_zero_point); break;
      default: break;  // excluded above
    }
  }
  return out;
}

// [N,H,W,C] to [N,C,H,W], any element type.
HostTensor ToChannelsFirst(const HostTensor& t) {
  const int n = t.shape[0], h = t.shape[1], w = t.shape[2], c = t.shape[3];
  const size_t element = DTypeSize(t.dtype);
  HostTensor out;
  out.dtype = t.dtype;
  out.shape = {n, c, h, w};
  out.bytes.resize(t.bytes.size());
  for (int b = 0; b < n; ++b)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int k = 0; k < c; ++k) {
          const size_t from = ((static_cast<size_t>(b) * h + y) * w + x) * c + k;
          const size_t to = ((static_cast<size_t>(b) * c + k) * h + y) * w + x;
          std::memcpy(&out.bytes[to * element], &t.bytes[from * element], element);
        }
  return out;
}

}  // namespace

Result<Preprocess> ParsePreprocess(const std::string& text) {
  Preprocess p;
  if (text.empty()) return p;
  auto bad = [&](const std::string& item, const std::string& why) {
    return Status::InvalidArgument("preprocessing '" + text + "': '" + item + "' " + why);
  };
  auto numbers = [&](const std::string& item, const std::string& value, bool nonzero) -> Result<std::vector<float>> {
    std::vector<float> out;
    for (const std::string& v : Split(value, '/')) {
      const auto number = ParseNumber(v);
      if (!number || (nonzero && *number == 0)) return bad(item, nonzero ? "needs non-zero numbers separated by /" : "needs numbers separated by /");
      out.push_back(*number);
    }
    return out;
  };
  for (const std::string& item : Split(text, ',')) {
    if (item == "raw") {
      p.raw = true;
      continue;
    }
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return bad(item, "is not understood (expected resize=HxW, channels=1|3, scale=X, mean=M/.., std=S/.., layout=nhwc|nchw or raw)");
    }
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "resize") {
      const std::vector<std::string> hw = Split(value, 'x');
      const auto h = hw.size() == 2 ? ParseInt<int>(hw[0]) : std::nullopt;
      const auto w = hw.size() == 2 ? ParseInt<int>(hw[1]) : std::nullopt;
      if (!h || !w || *h < 1 || *w < 1 || *h > 1 << 15 || *w > 1 << 15) return bad(item, "needs HEIGHTxWIDTH, e.g. resize=224x224");
      p.resize_height = *h, p.resize_width = *w;
    } else if (key == "channels") {
      if (value == "1" || value == "grey" || value == "gray") {
        p.channels = 1;
      } else if (value == "3" || value == "rgb") {
        p.channels = 3;
      } else {
        return bad(item, "needs 1 (grey) or 3 (rgb)");
      }
    } else if (key == "scale") {
      const auto scale = ParseNumber(value);
      if (!scale || *scale == 0) return bad(item, "needs a non-zero number or fraction, e.g. scale=1/255");
      p.scale = *scale;
    } else if (key == "mean") {
      QAUDIT_ASSIGN_OR_RETURN(p.mean, numbers(item, value, false));
    } else if (key == "std") {
      QAUDIT_ASSIGN_OR_RETURN(p.std, numbers(item, value, true));
    } else if (key == "layout") {
      if (value == "nhwc" || value == "NHWC") {
        p.layout = Preprocess::Layout::kNHWC;
      } else if (value == "nchw" || value == "NCHW") {
        p.layout = Preprocess::Layout::kNCHW;
      } else {
        return bad(item, "needs nhwc or nchw");
      }
    } else {
      return bad(item, "has an unknown key (resize, channels, scale, mean, std, layout)");
    }
  }
  if (p.raw && p.normalises()) return Status::InvalidArgument("preprocessing '" + text + "': raw cannot go with scale, mean or std");
  return p;
}

Preprocess PreprocessFor(const InputSpec& input, Preprocess preprocess) {
  if (preprocess.resize_height == 0 && input.shape.size() == 4) {
    const bool nchw = preprocess.layout == Preprocess::Layout::kNCHW;
    preprocess.resize_height = static_cast<int>(input.shape[nchw ? 2 : 1]);
    preprocess.resize_width = static_cast<int>(input.shape[nchw ? 3 : 2]);
    if (preprocess.channels == 0) preprocess.channels = static_cast<int>(input.shape[nchw ? 1 : 3]);
  }
  return preprocess;
}

Result<HostTensor> FitToInput(const Dataset& dataset, const InputSpec& input, const Preprocess& preprocess) {
  const std::string& source = dataset.source;
  if (dataset.size() == 0) return Status::InvalidArgument(source + ": the dataset has no samples");
  Shape target = input.shape;
  if (!target.empty() && target[0] == 1) target.erase(target.begin());
  const int64_t target_count = NumElements(target);
  if (target_count <= 0) {
    return Status::InvalidArgument("input '" + input.name + "' has shape " + ShapeToString(input.shape) + ", which holds no data");
  }
  QAUDIT_ASSIGN_OR_RETURN(HostTensor data, FitImages(dataset.samples, target, input, preprocess, source));
  QAUDIT_ASSIGN_OR_RETURN(data, FitValues(data, input, preprocess, source));
  if (preprocess.layout == Preprocess::Layout::kNCHW) {
    if (data.shape.size() != 4) {
      return Status::InvalidArgument(source + ": layout=nchw needs images [N,H,W,C], not " + ShapeToString(data.shape));
    }
    data = ToChannelsFirst(data);
  }
  const int64_t per_sample = NumElements(SampleShapeOf(data.shape));
  if (per_sample != target_count) {
    return Status::InvalidArgument(source + ": samples of shape " + ShapeToString(SampleShapeOf(data.shape)) + " (" +
                                   std::to_string(per_sample) + " values) do not fit input '" + input.name + "' " +
                                   ShapeToString(input.shape) + " (" + std::to_string(target_count) + " values per sample)");
  }
  data.shape = target;
  data.shape.insert(data.shape.begin(), static_cast<int32_t>(dataset.size()));
  return data;
}

}  // namespace qaudit
