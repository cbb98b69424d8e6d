// Reading and writing the data qaudit feeds to models: NumPy .npy arrays, BMP images and
// the IDX files of (Fashion-)MNIST.
#ifndef QAUDIT_DATA_H_
#define QAUDIT_DATA_H_

#include <string>

#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit {

// NPY format 1.0-3.0, little-endian, C order; float32, float16, int8, uint8, int16,
// int32, int64, bool.
Result<HostTensor> ReadNpy(const std::string& path);
// Writes format 1.0 through a temporary file and a rename.
Status WriteNpy(const std::string& path, const HostTensor& tensor);

// Uncompressed 8-bit grey (palette) or 24/32-bit BMP as uint8 [height, width, channels]
// with channels 1 (grey) or 3 (RGB order), top row first.
Result<HostTensor> ReadBmp(const std::string& path);

// Bilinear resize of a uint8 [height, width, channels] image (pixel centres aligned,
// as TensorFlow's resize with half_pixel_centers), rounding to the nearest value.
HostTensor ResizeImage(const HostTensor& image, int height, int width);

// IDX files (optionally gzip-compressed): images as uint8 [N, rows, cols], labels as
// uint8 [N].
Result<HostTensor> ReadIdx(const std::string& path);

}  // namespace qaudit

#endif  // QAUDIT_DATA_H_
