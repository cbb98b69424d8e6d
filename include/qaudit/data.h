// Reading the data qaudit feeds to models, and fitting it to a model input.
//
// File formats: NumPy .npy and .npz arrays, BMP / PNG / JPEG images and the IDX files of
// (Fashion-)MNIST. On top of them, a Dataset is N samples with optional labels, loaded
// from a spec string (see LoadDataset), narrowed by a DatasetSelection, then converted
// by FitToInput into the batch a model input takes, following a Preprocess spec.
#ifndef QAUDIT_DATA_H_
#define QAUDIT_DATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit {

// ---------------------------------------------------------------------------------------
// File formats

// NPY format 1.0-3.0, little-endian, C order; float32, float16, int8, uint8, int16,
// int32, int64, bool.
Result<HostTensor> ReadNpy(const std::string& path);
// Writes format 1.0 through a temporary file and a rename.
Status WriteNpy(const std::string& path, const HostTensor& tensor);

struct NamedArray {
  std::string name;  // the entry's name without ".npy"
  HostTensor array;
};
// A NumPy .npz archive (np.savez: stored entries; np.savez_compressed: deflated entries),
// every array in archive order. CRCs are checked.
Result<std::vector<NamedArray>> ReadNpz(const std::string& path);

// Uncompressed 8-bit grey (palette) or 24/32-bit BMP as uint8 [height, width, channels]
// with channels 1 (grey) or 3 (RGB order), top row first.
Result<HostTensor> ReadBmp(const std::string& path);

// BMP, PNG or JPEG (chosen by the file's first bytes) as uint8 [height, width, channels]:
// grey images keep 1 channel, colour ones get 3 (RGB); transparent PNG pixels are composed
// onto black and 16-bit PNG samples reduced to 8 bits.
Result<HostTensor> ReadImage(const std::string& path);

// Bilinear resize of a uint8 [height, width, channels] image (pixel centres aligned,
// as TensorFlow's resize with half_pixel_centers), rounding to the nearest value.
HostTensor ResizeImage(const HostTensor& image, int height, int width);

// A uint8 [height, width, channels] image with `channels` channels: grey to RGB repeats
// the grey value, RGB to grey takes ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B,
// rounded). Only 1 <-> 3 conversions exist; REQUIRES: channels and image.shape[2] in {1, 3}.
HostTensor ConvertImageChannels(const HostTensor& image, int channels);

// IDX files (optionally gzip-compressed): images as uint8 [N, rows, cols], labels as
// uint8 [N].
Result<HostTensor> ReadIdx(const std::string& path);

// ---------------------------------------------------------------------------------------
// Datasets

// N samples stacked along the first dimension of `samples`.
struct Dataset {
  std::string source;                    // the file, folder or built-in name, for messages
  HostTensor samples;                    // [N, ...]
  std::vector<int32_t> labels;           // empty, or one class index per sample
  std::vector<std::string> class_names;  // empty, or the name of each class index
  int64_t size() const { return samples.shape.empty() ? 0 : samples.shape[0]; }
};

// Which samples of a dataset to keep, applied in this order:
//   1. `classes`: keep only samples whose label is listed (needs labels);
//   2. `offset`, `limit`: then keep samples [offset, offset + limit) of what is left;
//   3. `random_subset`: then keep that many samples drawn without replacement by a
//      generator seeded with `seed`, in dataset order (the same seed picks the same ones).
struct DatasetSelection {
  int64_t offset = 0;
  int64_t limit = -1;         // -1: to the end
  int64_t random_subset = 0;  // 0: keep all
  uint64_t seed = 0;
  std::vector<int> classes;   // empty: every class
  bool selects_all() const { return offset == 0 && limit < 0 && random_subset == 0 && classes.empty(); }
};

// The part of a dataset spec inside [...]: comma-separated items, each one of
//   A:B        samples A to B-1 (either may be left out: ":100", "500:")
//   random=K   a seeded random subset of K samples
//   seed=S     the seed for random= (default 0)
//   classes=C/C/...  class indices to keep, e.g. classes=0/3/7
// e.g. "0:1000,classes=5/7,random=100,seed=3".
Result<DatasetSelection> ParseDatasetSelection(const std::string& text);

// The samples `selection` keeps; InvalidArgument when `classes` is given but the
// dataset has no labels, or a class index is out of range.
Result<Dataset> SelectSamples(const Dataset& dataset, const DatasetSelection& selection);

// Where the built-in "fmnist" dataset is read from (Debian's dataset-fashion-mnist).
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// How to turn stored values into the values a model input takes. Parsed from a compact
// string by ParsePreprocess.
struct Preprocess {
  enum class Layout { kNHWC, kNCHW };

  int resize_height = 0, resize_width = 0;  // 0: keep, or the model input's size if needed
  int channels = 0;                          // 0: keep, or the input's; 1 grey, 3 RGB
  // real = (value * scale - mean[c]) / std[c], c the channel (the last dimension of the
  // stored data); one mean or std applies to every channel.
  std::optional<float> scale;  // unset: 1/255 for uint8 data, else 1
  std::vector<float> mean;     // empty: 0
  std::vector<float> std;      // empty: 1
  Layout layout = Layout::kNHWC;
  // Feed integers without normalising: data in the input's dtype as it is, uint8 into an
  // int8 input as value - 128 (how TFLite Micro's examples feed camera bytes to int8
  // models such as person_detect), ignoring the input's scale and zero point.
  bool raw = false;

  bool normalises() const { return scale.has_value() || !mean.empty() || !std.empty(); }
};

// Comma-separated items, any order:
//   resize=HxW       e.g. resize=224x224
//   channels=N       1 (grey) or 3 (rgb); also channels=grey, channels=rgb
//   scale=X          a number or a fraction, e.g. scale=1/255, scale=0.0078125
//   mean=M[/M/M]     one value, or one per channel, e.g. mean=0.485/0.456/0.406
//   std=S[/S/S]      the same for the standard deviation (none may be 0)
//   layout=nhwc|nchw the layout of the fitted batch (images are stored NHWC)
//   raw              see Preprocess::raw; not with scale, mean or std
// e.g. "resize=224x224,scale=1/255,mean=0.485/0.456/0.406,std=0.229/0.224/0.225".
// The empty string is the default Preprocess.
Result<Preprocess> ParsePreprocess(const std::string& text);

// Loads a dataset from a spec: SOURCE or SOURCE[SELECTION] (see ParseDatasetSelection):
//   fmnist, fmnist:test  the 10,000 Fashion-MNIST test images, uint8 [N,28,28], labels
//                        and the 10 class names; fmnist:train: the 60,000 training images
//   FILE.npy             the array, N x ...; no labels
//   FILE.npz[:KEY]       array KEY, else the one named x, images or inputs, else the first;
//                        labels from the array named y or labels when it has N values
//   IDX file             e.g. train-images-idx3-ubyte(.gz); labels from the sibling
//                        ...-labels-idx1-ubyte(.gz) when it exists
//   DIRECTORY            BMP / PNG / JPEG images in name order, uint8 [N,H,W,C]; either
//                        flat (no labels) or one subfolder per class (label = index of the
//                        subfolder in name order, class_names = the subfolder names).
//                        Images are brought to `preprocess`'s channels and size; without
//                        them, to the first image's, and images of another size are an
//                        error. The selection picks files before any is decoded.
// Every error names the spec and the offending file and value.
Result<Dataset> LoadDataset(const std::string& spec, const Preprocess& preprocess = {});

// What FitToInput needs to know of a model input, as plain values.
struct InputSpec {
  std::string name;  // for messages
  DType dtype = DType::kFloat32;
  Shape shape;
  QuantParams quant;
};

// `preprocess` with the input's height, width (and channels, if unset) filled in when it
// names no size and the input is 4-D, so that images of other sizes are brought to it.
Preprocess PreprocessFor(const InputSpec& input, Preprocess preprocess);

// The dataset as a batch for `input`: [N, ...input.shape without a leading 1] (or
// [N, ...input.shape] when the input has no batch dimension of 1), in input.dtype.
//   - Shape: samples whose element count matches the input's are reshaped (e.g.
//     [N,28,28] to [N,28,28,1]). Otherwise uint8 images ([N,H,W] or [N,H,W,C]) are
//     converted to the input's channels and resized to its height and width (or to what
//     `preprocess` says), then laid out as `preprocess.layout`.
//   - Values: data already in input.dtype with no scale/mean/std (or with `raw`) is
//     copied as it is. Otherwise values become real numbers by `preprocess` and are
//     stored as float32, or, for a quantized int8/uint8/int16 input, quantized with its
//     scale and zero point (round half away from zero, clamped to the type).
// Errors name dataset.source, the input and both shapes; NaN or Inf in float data is an
// error naming the sample and element; so is an empty dataset.
Result<HostTensor> FitToInput(const Dataset& dataset, const InputSpec& input, const Preprocess& preprocess = {});

}  // namespace qaudit

#endif  // QAUDIT_DATA_H_
