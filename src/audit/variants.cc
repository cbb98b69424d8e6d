#include "audit/variants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace qaudit::audit {

double Random::Normal() {
  double u1 = Uniform();
  while (u1 <= 0) u1 = Uniform();
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

uint64_t HashText(const std::string& text, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

LabelledBatch TakeSamples(const LabelledBatch& batch, const std::vector<int64_t>& indices) {
  LabelledBatch out;
  Shape shape = batch.samples.shape;
  shape[0] = static_cast<int64_t>(indices.size());
  out.samples = HostTensor{DType::kFloat32, shape, std::vector<uint8_t>(NumElements(shape) * sizeof(float))};
  const int64_t per = batch.size() > 0 ? batch.samples.num_elements() / batch.size() : 0;
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(out.samples.data<float>() + i * per, batch.samples.data<float>() + indices[i] * per,
                per * sizeof(float));
    if (!batch.labels.empty()) out.labels.push_back(batch.labels[indices[i]]);
  }
  return out;
}

HostTensor Clamp(const HostTensor& samples, float low, float high) {
  HostTensor out = samples;
  float* v = out.data<float>();
  for (int64_t i = 0; i < out.num_elements(); ++i) v[i] = std::clamp(v[i], low, high);
  return out;
}

Result<LabelledBatch> ApplyVariant(const LabelledBatch& clean, Variant variant, const ShiftSettings& shifts, float low,
                                   float high, uint64_t seed) {
  const double range = std::max(1e-6, static_cast<double>(high) - low);
  const int64_t n = clean.size();
  const int64_t per = n > 0 ? clean.samples.num_elements() / n : 0;
  Random random(seed);
  LabelledBatch out = clean;
  float* v = out.samples.data<float>();
  switch (variant) {
    case Variant::kClean: break;
    case Variant::kOutlierPixels: {
      const int64_t count = std::max<int64_t>(1, std::llround(shifts.outlier_pixel_share * per));
      const float value = static_cast<float>(low + shifts.outlier_pixel_value * range);
      for (int64_t s = 0; s < n; ++s) {
        for (int64_t k = 0; k < count; ++k) v[s * per + random.Below(per)] = value;
      }
      break;
    }
    case Variant::kBrightnessContrast: {
      for (int64_t s = 0; s < n; ++s) {
        double mean = 0;
        for (int64_t i = 0; i < per; ++i) mean += v[s * per + i];
        mean /= std::max<int64_t>(per, 1);
        for (int64_t i = 0; i < per; ++i) {
          float& x = v[s * per + i];
          x = static_cast<float>(mean + shifts.contrast * (x - mean) + shifts.brightness * range);
        }
      }
      break;
    }
    case Variant::kGaussianNoise: {
      const double sigma = shifts.noise_stddev * range;
      for (int64_t i = 0; i < n * per; ++i) v[i] = static_cast<float>(v[i] + sigma * random.Normal());
      break;
    }
    case Variant::kLongTail: {
      if (clean.labels.empty()) return Status::InvalidArgument("the long-tail variant needs labelled data");
      // Class k keeps the first ratio^k of its samples (at least one), in data order.
      std::map<int32_t, int64_t> count, kept;
      for (int32_t label : clean.labels) ++count[label];
      int rank = 0;
      std::map<int32_t, int64_t> quota;
      for (const auto& [label, c] : count) {
        quota[label] = std::max<int64_t>(1, static_cast<int64_t>(c * std::pow(shifts.long_tail_ratio, rank++)));
      }
      std::vector<int64_t> indices;
      for (int64_t s = 0; s < n; ++s) {
        if (kept[clean.labels[s]]++ < quota[clean.labels[s]]) indices.push_back(s);
      }
      return TakeSamples(clean, indices);
    }
  }
  return out;
}

}  // namespace qaudit::audit
