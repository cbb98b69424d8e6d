#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstring>
#include <memory>

#include <jpeglib.h>

#include "core/file_io.h"
#include "qaudit/data.h"

namespace qaudit {
namespace {

uint32_t Le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

HostTensor Uint8Image(int height, int width, int channels) {
  HostTensor t;
  t.dtype = DType::kUInt8;
  t.shape = {height, width, channels};
  t.bytes.resize(static_cast<size_t>(height) * width * channels);
  return t;
}

Result<HostTensor> DecodePng(const std::vector<uint8_t>& bytes, const std::string& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    return Status::InvalidArgument(path + ": unsupported or corrupt PNG: " + png.message);
  }
  const bool colour = png.format & PNG_FORMAT_FLAG_COLOR;
  png.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  HostTensor t = Uint8Image(static_cast<int>(png.height), static_cast<int>(png.width), colour ? 3 : 1);
  // A null background composes transparent pixels onto black, in 8-bit sRGB.
  if (!png_image_finish_read(&png, nullptr, t.bytes.data(), 0, nullptr)) {
    return Status::InvalidArgument(path + ": unsupported or corrupt PNG: " + png.message);
  }
  return t;
}

// libjpeg reports errors through a callback that must not return: it jumps back to
// DecodeJpeg with the message.
struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void JpegErrorExit(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  errors->base.format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

Result<HostTensor> DecodeJpeg(const std::vector<uint8_t>& bytes, const std::string& path) {
  jpeg_decompress_struct cinfo{};
  JpegErrorManager errors{};
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = JpegErrorExit;
  errors.base.output_message = [](j_common_ptr) {};  // warnings (e.g. a short file) are not printed: nothing below the CLI prints
  // Locals changed between setjmp and longjmp are indeterminate after the jump, so the
  // image lives on the heap behind a pointer that is set before setjmp and never changed.
  const auto image = std::make_unique<HostTensor>();
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return Status::InvalidArgument(path + ": unsupported or corrupt JPEG: " + errors.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t row_bytes = static_cast<size_t>(cinfo.output_width) * cinfo.output_components;
  *image = Uint8Image(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width), cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &image->bytes[cinfo.output_scanline * row_bytes];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return std::move(*image);
}

Result<HostTensor> DecodeBmp(const std::vector<uint8_t>& b, const std::string& path) {
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
  const int channels = bpp == 8 ? 1 : 3;
  HostTensor t = Uint8Image(height, width, channels);
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

}  // namespace

Result<HostTensor> ReadBmp(const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadWholeFile(path));
  return DecodeBmp(bytes, path);
}

Result<HostTensor> ReadImage(const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadWholeFile(path));
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
  };
  if (starts({'B', 'M'})) return DecodeBmp(bytes, path);
  if (starts({0x89, 'P', 'N', 'G'})) return DecodePng(bytes, path);
  if (starts({0xff, 0xd8, 0xff})) return DecodeJpeg(bytes, path);
  return Status::Unsupported(path + ": not a BMP, PNG or JPEG image");
}

HostTensor ResizeImage(const HostTensor& image, int height, int width) {
  const int in_h = image.shape[0], in_w = image.shape[1], channels = image.shape[2];
  HostTensor out = Uint8Image(height, width, channels);
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

HostTensor ConvertImageChannels(const HostTensor& image, int channels) {
  const int from = image.shape[2];
  assert((from == 1 || from == 3) && (channels == 1 || channels == 3));
  if (from == channels) return image;
  HostTensor out = Uint8Image(image.shape[0], image.shape[1], channels);
  const size_t pixels = static_cast<size_t>(image.shape[0]) * image.shape[1];
  const uint8_t* src = image.data<uint8_t>();
  for (size_t i = 0; i < pixels; ++i) {
    if (channels == 3) {
      std::fill_n(&out.bytes[3 * i], 3, src[i]);
    } else {
      const float luma = 0.299f * src[3 * i] + 0.587f * src[3 * i + 1] + 0.114f * src[3 * i + 2];
      out.bytes[i] = static_cast<uint8_t>(std::lround(luma));
    }
  }
  return out;
}

}  // namespace qaudit
