// Dataset specs: the built-in Fashion-MNIST, .npy, .npz, IDX, image files and folders;
// and the selection of samples.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "data/spec_text.h"
#include "qaudit/data.h"

namespace qaudit {
namespace {

namespace fs = std::filesystem;
using spec_text::ParseInt;
using spec_text::Split;

const std::vector<std::string> kFashionMnistClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",     "Ankle boot"};

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool IsImagePath(const std::string& path) {
  const std::string lower = Lowercase(path);
  return EndsWith(lower, ".bmp") || EndsWith(lower, ".png") || EndsWith(lower, ".jpg") || EndsWith(lower, ".jpeg");
}

bool IsIdxPath(const std::string& path) {
  return EndsWith(path, ".idx") || EndsWith(path, ".idx.gz") || EndsWith(path, "ubyte") || EndsWith(path, "ubyte.gz");
}

// Class indices as int32, from any integer array with one value per sample.
Result<std::vector<int32_t>> LabelsFrom(const HostTensor& array, int64_t count, const std::string& what) {
  if (array.num_elements() != count) {
    return Status::InvalidArgument(what + ": " + std::to_string(array.num_elements()) + " labels " +
                                   ShapeToString(array.shape) + " for " + std::to_string(count) + " samples");
  }
  std::vector<int32_t> labels(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t value = 0;
    switch (array.dtype) {
      case DType::kUInt8: value = array.data<uint8_t>()[i]; break;
      case DType::kInt8: value = array.data<int8_t>()[i]; break;
      case DType::kInt16: value = array.data<int16_t>()[i]; break;
      case DType::kInt32: value = array.data<int32_t>()[i]; break;
      case DType::kInt64: value = array.data<int64_t>()[i]; break;
      default:
        return Status::InvalidArgument(what + ": labels must be integers, not " + std::string(DTypeName(array.dtype)));
    }
    if (value < 0 || value > INT32_MAX) {
      return Status::InvalidArgument(what + ": label " + std::to_string(value) + " of sample " + std::to_string(i) +
                                     " is not a class index");
    }
    labels[i] = static_cast<int32_t>(value);
  }
  return labels;
}

// The indices of the samples that `selection` keeps, in dataset order.
Result<std::vector<int64_t>> SelectedIndices(int64_t count, const std::vector<int32_t>& labels, size_t class_count,
                                             const DatasetSelection& selection, const std::string& source) {
  std::vector<int64_t> kept;
  if (selection.classes.empty()) {
    kept.resize(count);
    for (int64_t i = 0; i < count; ++i) kept[i] = i;
  } else {
    if (labels.empty()) return Status::InvalidArgument(source + ": classes= needs labels, and this dataset has none");
    for (int c : selection.classes) {
      if (c < 0 || (class_count > 0 && static_cast<size_t>(c) >= class_count)) {
        return Status::InvalidArgument(source + ": class " + std::to_string(c) + " does not exist (the dataset has " +
                                       std::to_string(class_count) + " classes)");
      }
    }
    for (int64_t i = 0; i < count; ++i) {
      if (std::find(selection.classes.begin(), selection.classes.end(), labels[i]) != selection.classes.end()) kept.push_back(i);
    }
  }
  const int64_t available = static_cast<int64_t>(kept.size());
  if (selection.offset > available) {
    return Status::InvalidArgument(source + ": offset " + std::to_string(selection.offset) + " is past the " +
                                   std::to_string(available) + " samples");
  }
  const int64_t left = available - selection.offset;
  const int64_t end = selection.offset + (selection.limit < 0 ? left : std::min(left, selection.limit));
  kept = std::vector<int64_t>(kept.begin() + selection.offset, kept.begin() + end);
  if (selection.random_subset > 0) {
    const int64_t n = static_cast<int64_t>(kept.size());
    if (selection.random_subset > n) {
      return Status::InvalidArgument(source + ": random=" + std::to_string(selection.random_subset) + " but only " +
                                     std::to_string(n) + " samples are selected");
    }
    // A partial Fisher-Yates shuffle with plain modulo (not std::uniform_int_distribution,
    // whose output differs between standard libraries), so a seed picks the same samples
    // everywhere.
    std::mt19937_64 rng(selection.seed);
    for (int64_t i = 0; i < selection.random_subset; ++i) {
      std::swap(kept[i], kept[i + static_cast<int64_t>(rng() % static_cast<uint64_t>(n - i))]);
    }
    kept.resize(selection.random_subset);
    std::sort(kept.begin(), kept.end());
  }
  if (kept.empty()) return Status::InvalidArgument(source + ": the selection keeps no samples");
  return kept;
}

Dataset Gather(const Dataset& dataset, const std::vector<int64_t>& indices) {
  Dataset out;
  out.source = dataset.source;
  out.class_names = dataset.class_names;
  out.samples.dtype = dataset.samples.dtype;
  out.samples.shape = dataset.samples.shape;
  out.samples.shape[0] = static_cast<int32_t>(indices.size());
  const size_t sample_bytes = dataset.samples.bytes.size() / dataset.size();
  out.samples.bytes.resize(sample_bytes * indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    std::memcpy(&out.samples.bytes[k * sample_bytes], &dataset.samples.bytes[indices[k] * sample_bytes], sample_bytes);
    if (!dataset.labels.empty()) out.labels.push_back(dataset.labels[indices[k]]);
  }
  return out;
}

// IDX images with the labels of the sibling "...-labels-idx1-ubyte[.gz]" file, if any.
Result<Dataset> LoadIdx(const std::string& path) {
  Dataset d;
  d.source = path;
  QAUDIT_ASSIGN_OR_RETURN(d.samples, ReadIdx(path));
  std::string labels_path = path;
  const std::string images_part = "-images-idx3-ubyte";
  const size_t p = labels_path.rfind(images_part);
  if (p == std::string::npos) return d;
  labels_path.replace(p, images_part.size(), "-labels-idx1-ubyte");
  if (!fs::exists(labels_path)) return d;
  QAUDIT_ASSIGN_OR_RETURN(HostTensor labels, ReadIdx(labels_path));
  QAUDIT_ASSIGN_OR_RETURN(d.labels, LabelsFrom(labels, d.size(), labels_path));
  return d;
}

Result<Dataset> LoadFashionMnist(const std::string& split_spec) {
  std::string split = "t10k";
  if (split_spec == "train") {
    split = "train";
  } else if (!split_spec.empty() && split_spec != "test") {
    return Status::InvalidArgument("fmnist:" + split_spec + ": the Fashion-MNIST splits are fmnist:test and fmnist:train");
  }
  const std::string images = std::string(kFashionMnistDir) + "/" + split + "-images-idx3-ubyte.gz";
  if (!fs::exists(images)) {
    return Status::NotFound("fmnist: " + images + " is missing (install dataset-fashion-mnist)");
  }
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadIdx(images));
  if (d.labels.empty()) return Status::NotFound("fmnist: the labels beside " + images + " are missing");
  d.class_names = kFashionMnistClasses;
  return d;
}

Result<Dataset> LoadNpz(const std::string& path, const std::string& key) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<NamedArray> arrays, ReadNpz(path));
  auto find = [&](const std::string& name) {
    return std::find_if(arrays.begin(), arrays.end(), [&](const NamedArray& a) { return a.name == name; });
  };
  auto samples = arrays.end();
  if (!key.empty()) {
    samples = find(key);
    if (samples == arrays.end()) {
      std::string names;
      for (const NamedArray& a : arrays) names += (names.empty() ? "" : ", ") + a.name;
      return Status::NotFound(path + ": no array '" + key + "' (it has " + names + ")");
    }
  } else {
    for (const char* name : {"x", "images", "inputs"}) {
      if (samples == arrays.end()) samples = find(name);
    }
    if (samples == arrays.end()) samples = arrays.begin();
  }
  if (samples == arrays.end()) return Status::InvalidArgument(path + ": the archive holds no arrays");
  Dataset d;
  d.source = path + ":" + samples->name;
  d.samples = std::move(samples->array);
  if (d.samples.shape.empty()) return Status::InvalidArgument(d.source + ": a scalar is not a dataset of N samples");
  for (const char* name : {"y", "labels"}) {
    auto labels = find(name);
    if (labels == arrays.end() || labels == samples || !d.labels.empty() || labels->array.num_elements() != d.size()) continue;
    QAUDIT_ASSIGN_OR_RETURN(d.labels, LabelsFrom(labels->array, d.size(), path + ":" + name));
  }
  return d;
}

// Decodes each image and brings it to the common channels and size.
Result<Dataset> LoadImages(const std::string& source, const std::vector<std::string>& files, const Preprocess& preprocess) {
  Dataset d;
  d.source = source;
  int height = preprocess.resize_height, width = preprocess.resize_width, channels = preprocess.channels;
  for (const std::string& file : files) {
    QAUDIT_ASSIGN_OR_RETURN(HostTensor image, ReadImage(file));
    if (channels == 0) channels = image.shape[2];
    if (height == 0) height = image.shape[0], width = image.shape[1];
    image = ConvertImageChannels(image, channels);
    if (image.shape[0] != height || image.shape[1] != width) {
      if (preprocess.resize_height == 0) {
        return Status::InvalidArgument(file + ": image is " + std::to_string(image.shape[0]) + "x" +
                                       std::to_string(image.shape[1]) + " (HxW), the first of " + source + " is " +
                                       std::to_string(height) + "x" + std::to_string(width) +
                                       "; give resize=HxW in the preprocessing");
      }
      image = ResizeImage(image, height, width);
    }
    d.samples.bytes.insert(d.samples.bytes.end(), image.bytes.begin(), image.bytes.end());
  }
  d.samples.dtype = DType::kUInt8;
  d.samples.shape = {static_cast<int32_t>(files.size()), height, width, channels};
  return d;
}

// Image files in name order; hidden files and other extensions are skipped.
std::vector<std::string> ImagesIn(const fs::path& dir) {
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name[0] != '.' && IsImagePath(name)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<Dataset> LoadImageFolder(const std::string& dir, const Preprocess& preprocess, const DatasetSelection& selection) {
  std::vector<std::string> class_names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name[0] != '.') class_names.push_back(name);
  }
  std::sort(class_names.begin(), class_names.end());
  std::vector<std::string> files = ImagesIn(dir);
  std::vector<int32_t> labels;
  if (!class_names.empty()) {
    if (!files.empty()) {
      return Status::InvalidArgument(dir + ": has both images (" + files[0] + ") and class subfolders (" + class_names[0] +
                                     "); keep the images in one or the other");
    }
    for (size_t c = 0; c < class_names.size(); ++c) {
      const std::vector<std::string> in_class = ImagesIn(fs::path(dir) / class_names[c]);
      files.insert(files.end(), in_class.begin(), in_class.end());
      labels.insert(labels.end(), in_class.size(), static_cast<int32_t>(c));
    }
  }
  if (files.empty()) return Status::NotFound(dir + ": no .bmp, .png or .jpg images in the folder or its subfolders");
  QAUDIT_ASSIGN_OR_RETURN(std::vector<int64_t> picked,
                          SelectedIndices(static_cast<int64_t>(files.size()), labels, class_names.size(), selection, dir));
  std::vector<std::string> picked_files;
  std::vector<int32_t> picked_labels;
  for (int64_t i : picked) {
    picked_files.push_back(files[i]);
    if (!labels.empty()) picked_labels.push_back(labels[i]);
  }
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadImages(dir, picked_files, preprocess));
  d.labels = std::move(picked_labels);
  d.class_names = std::move(class_names);
  return d;
}

bool IsFashionMnist(const std::string& source) { return source == "fmnist" || source.rfind("fmnist:", 0) == 0; }

// Every source but a folder, which LoadImageFolder reads.
Result<Dataset> LoadFileOrBuiltin(const std::string& source, const Preprocess& preprocess) {
  if (IsFashionMnist(source)) return LoadFashionMnist(source.size() > 6 ? source.substr(7) : "");
  std::string path = source, npz_key;
  const size_t npz = source.rfind(".npz:");
  if (npz != std::string::npos) {
    path = source.substr(0, npz + 4);
    npz_key = source.substr(npz + 5);
  }
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return Status::NotFound(path + ": no such file or folder");
  if (EndsWith(path, ".npz")) return LoadNpz(path, npz_key);
  if (EndsWith(path, ".npy")) {
    Dataset d;
    d.source = path;
    QAUDIT_ASSIGN_OR_RETURN(d.samples, ReadNpy(path));
    if (d.samples.shape.empty()) return Status::InvalidArgument(path + ": a scalar is not a dataset of N samples");
    return d;
  }
  if (IsIdxPath(path)) return LoadIdx(path);
  if (IsImagePath(path)) return LoadImages(path, {path}, preprocess);
  return Status::Unsupported(path + ": unknown data format (expected .npy, .npz, an IDX file, a .bmp/.png/.jpg image, "
                                    "a folder of images or fmnist)");
}

}  // namespace

Result<DatasetSelection> ParseDatasetSelection(const std::string& text) {
  DatasetSelection s;
  auto bad = [&](const std::string& item, const std::string& why) {
    return Status::InvalidArgument("sample selection '" + text + "': '" + item + "' " + why +
                                   " (expected A:B, random=K, seed=S or classes=C/C/...)");
  };
  for (const std::string& item : Split(text, ',')) {
    const size_t colon = item.find(':'), eq = item.find('=');
    if (colon != std::string::npos && eq == std::string::npos) {
      const std::string from = item.substr(0, colon), to = item.substr(colon + 1);
      const auto begin = from.empty() ? std::optional<int64_t>(0) : ParseInt<int64_t>(from);
      const auto end = to.empty() ? std::optional<int64_t>(-1) : ParseInt<int64_t>(to);
      if (!begin || !end || *begin < 0 || (!to.empty() && *end < *begin)) return bad(item, "is not a range 0 <= A <= B");
      s.offset = *begin;
      s.limit = to.empty() ? -1 : *end - *begin;
      continue;
    }
    if (eq == std::string::npos) return bad(item, "is not understood");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "random") {
      const auto k = ParseInt<int64_t>(value);
      if (!k || *k < 1) return bad(item, "needs a whole number of samples >= 1");
      s.random_subset = *k;
    } else if (key == "seed") {
      const auto seed = ParseInt<uint64_t>(value);
      if (!seed) return bad(item, "needs a whole number >= 0");
      s.seed = *seed;
    } else if (key == "classes") {
      for (const std::string& c : Split(value, '/')) {
        const auto index = ParseInt<int>(c);
        if (!index || *index < 0) return bad(item, "needs class indices >= 0 separated by /");
        s.classes.push_back(*index);
      }
    } else {
      return bad(item, "has an unknown key");
    }
  }
  return s;
}

Result<Dataset> SelectSamples(const Dataset& dataset, const DatasetSelection& selection) {
  if (selection.selects_all()) return dataset;
  QAUDIT_ASSIGN_OR_RETURN(std::vector<int64_t> indices, SelectedIndices(dataset.size(), dataset.labels, dataset.class_names.size(),
                                                                        selection, dataset.source));
  return Gather(dataset, indices);
}

Result<Dataset> LoadDataset(const std::string& spec, const Preprocess& preprocess) {
  std::string source = spec;
  DatasetSelection selection;
  const size_t open = spec.rfind('[');
  if (!spec.empty() && spec.back() == ']' && open != std::string::npos) {
    source = spec.substr(0, open);
    QAUDIT_ASSIGN_OR_RETURN(selection, ParseDatasetSelection(spec.substr(open + 1, spec.size() - open - 2)));
  }
  if (source.empty()) return Status::InvalidArgument("empty dataset spec '" + spec + "'");
  if (!IsFashionMnist(source) && fs::is_directory(source)) return LoadImageFolder(source, preprocess, selection);
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadFileOrBuiltin(source, preprocess));
  if (d.size() == 0) return Status::InvalidArgument(d.source + ": the dataset has no samples");
  return SelectSamples(d, selection);
}

}  // namespace qaudit
