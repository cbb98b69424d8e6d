#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/file_io.h"
#include "qaudit/data.h"

namespace qaudit {
namespace {

uint32_t Le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

Result<HostTensor> ReadBmp(const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> b, ReadWholeFile(path));
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(path + ": unsupported or corrupt BMP: " + what); };
  if (b.size() < 54 || b[0] != 'B' || b[1] != 'M') return bad("no BM header");
  const uint32_t data_offset = Le32(&b[10]);
  const uint32_t info_size = Le32(&b[14]);
  const int32_t width = static_cast<int32_t>(Le32(&b[18]));
  int32_t height = static_cast<int32_t>(Le32(&b[22]));
  const uint16_t bpp = Le16(&b[28]);
  const uint32_t compression = Le32(&b[30]);
  if (compression != 0 && !(compression == 3 && bpp == 32)) return bad("compressed (method " + std::to_string(compression) + ")");
  if (bpp != 8 && bpp != 24 && bpp != 32) return bad(std::to_string(bpp) + " bits per pixel");
  const bool bottom_up = height > 0;
  height = bottom_up ? height : -height;
  if (width <= 0 || height <= 0 || width > 1 << 15 || height > 1 << 15) return bad("size " + std::to_string(width) + "x" + std::to_string(height));
  const size_t row_bytes = (static_cast<size_t>(width) * bpp / 8 + 3) / 4 * 4;
  if (data_offset + row_bytes * height > b.size()) return bad("truncated pixel data");
  // 8-bit images are grey only if the palette is grey.
  const uint8_t* palette = &b[14 + info_size];
  if (bpp == 8) {
    if (14 + info_size + 256 * 4 > data_offset) return bad("8-bit image without a 256-entry palette");
    for (int i = 0; i < 256; ++i) {
      if (palette[4 * i] != palette[4 * i + 1] || palette[4 * i] != palette[4 * i + 2]) return bad("colour palette");
    }
  }
  HostTensor t;
  t.dtype = DType::kUInt8;
  const int channels = bpp == 8 ? 1 : 3;
  t.shape = {height, width, channels};
  t.bytes.resize(static_cast<size_t>(height) * width * channels);
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = &b[data_offset + row_bytes * (bottom_up ? height - 1 - y : y)];
    uint8_t* out = &t.bytes[static_cast<size_t>(y) * width * channels];
    for (int x = 0; x < width; ++x) {
      if (bpp == 8) {
        out[x] = palette[4 * row[x]];
      } else {
        const uint8_t* px = row + x * (bpp / 8);  // stored as B, G, R
        out[3 * x] = px[2], out[3 * x + 1] = px[1], out[3 * x + 2] = px[0];
      }
    }
  }
  return t;
}

HostTensor ResizeImage(const HostTensor& image, int height, int width) {
  const int in_h = image.shape[0], in_w = image.shape[1], channels = image.shape[2];
  HostTensor out;
  out.dtype = DType::kUInt8;
  out.shape = {height, width, channels};
  out.bytes.resize(static_cast<size_t>(height) * width * channels);
  const uint8_t* src = image.data<uint8_t>();
  for (int y = 0; y < height; ++y) {
    const float fy = std::clamp((y + 0.5f) * in_h / height - 0.5f, 0.0f, static_cast<float>(in_h - 1));
    const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, in_h - 1);
    const float wy = fy - y0;
    for (int x = 0; x < width; ++x) {
      const float fx = std::clamp((x + 0.5f) * in_w / width - 0.5f, 0.0f, static_cast<float>(in_w - 1));
      const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, in_w - 1);
      const float wx = fx - x0;
      for (int c = 0; c < channels; ++c) {
        auto px = [&](int yy, int xx) { return static_cast<float>(src[(static_cast<size_t>(yy) * in_w + xx) * channels + c]); };
        const float v = (px(y0, x0) * (1 - wx) + px(y0, x1) * wx) * (1 - wy) + (px(y1, x0) * (1 - wx) + px(y1, x1) * wx) * wy;
        out.bytes[(static_cast<size_t>(y) * width + x) * channels + c] = static_cast<uint8_t>(std::lround(v));
      }
    }
  }
  return out;
}

}  // namespace qaudit
