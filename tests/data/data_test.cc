// NPY, NPZ, BMP, PNG, JPEG and IDX reading; datasets, selection, preprocessing and
// fitting data to model inputs.
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <jpeglib.h>

#include "qaudit/data.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

namespace fs = std::filesystem;

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qaudit_data_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

template <typename T>
HostTensor Make(DType dtype, Shape shape, const std::vector<T>& values) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

template <typename T>
std::vector<T> Values(const HostTensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

void Put16(std::string& s, uint16_t v) { s.append({static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}); }
void Put32(std::string& s, uint32_t v) { Put16(s, v & 0xffff), Put16(s, v >> 16); }
void Put64(std::string& s, uint64_t v) { Put32(s, v & 0xffffffff), Put32(s, v >> 32); }

std::string RawDeflate(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// An .npz as NumPy writes it: each entry's local header carries zip64 placeholders
// (np.savez opens entries with force_zip64), the central directory the real sizes.
void WriteNpz(const std::string& path, const std::vector<NamedArray>& arrays, bool compressed) {
  std::string zip, directory;
  for (const NamedArray& a : arrays) {
    const std::string npy_path = path + ".tmp.npy";
    ASSERT_TRUE(WriteNpy(npy_path, a.array).ok());
    std::ifstream in(npy_path, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove(npy_path);
    const std::string stored = compressed ? RawDeflate(data) : data;
    const std::string name = a.name + ".npy";
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    const uint16_t method = compressed ? 8 : 0;
    const uint32_t offset = static_cast<uint32_t>(zip.size());
    Put32(zip, 0x04034b50), Put16(zip, 45), Put16(zip, 0), Put16(zip, method), Put32(zip, 0), Put32(zip, crc);
    Put32(zip, 0xffffffff), Put32(zip, 0xffffffff), Put16(zip, static_cast<uint16_t>(name.size())), Put16(zip, 20);
    zip += name;
    Put16(zip, 1), Put16(zip, 16), Put64(zip, data.size()), Put64(zip, stored.size());
    zip += stored;
    Put32(directory, 0x02014b50), Put16(directory, 45), Put16(directory, 45), Put16(directory, 0), Put16(directory, method);
    Put32(directory, 0), Put32(directory, crc), Put32(directory, static_cast<uint32_t>(stored.size()));
    Put32(directory, static_cast<uint32_t>(data.size())), Put16(directory, static_cast<uint16_t>(name.size()));
    Put16(directory, 0), Put16(directory, 0), Put16(directory, 0), Put16(directory, 0), Put32(directory, 0);
    Put32(directory, offset);
    directory += name;
  }
  const uint32_t directory_offset = static_cast<uint32_t>(zip.size());
  zip += directory;
  Put32(zip, 0x06054b50), Put16(zip, 0), Put16(zip, 0), Put16(zip, static_cast<uint16_t>(arrays.size()));
  Put16(zip, static_cast<uint16_t>(arrays.size())), Put32(zip, static_cast<uint32_t>(directory.size()));
  Put32(zip, directory_offset), Put16(zip, 0);
  std::ofstream(path, std::ios::binary) << zip;
}

// A 24-bit BMP of a uint8 [H,W,3] image.
void WriteBmp(const std::string& path, const HostTensor& image) {
  const int h = image.shape[0], w = image.shape[1];
  const int row = (3 * w + 3) / 4 * 4;
  std::string b = "BM";
  Put32(b, 54 + row * h), Put32(b, 0), Put32(b, 54), Put32(b, 40), Put32(b, w), Put32(b, h), Put16(b, 1), Put16(b, 24);
  Put32(b, 0), Put32(b, row * h), Put32(b, 2835), Put32(b, 2835), Put32(b, 0), Put32(b, 0);
  for (int y = h - 1; y >= 0; --y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* px = &image.bytes[(static_cast<size_t>(y) * w + x) * 3];
      b.append({static_cast<char>(px[2]), static_cast<char>(px[1]), static_cast<char>(px[0])});
    }
    b.append(row - 3 * w, '\0');
  }
  std::ofstream(path, std::ios::binary) << b;
}

void WritePng(const std::string& path, const HostTensor& image) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = image.shape[1];
  png.height = image.shape[0];
  png.format = image.shape[2] == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  ASSERT_TRUE(png_image_write_to_file(&png, path.c_str(), 0, image.bytes.data(), 0, nullptr)) << png.message;
}

void WriteJpeg(const std::string& path, const HostTensor& image) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = image.shape[1];
  cinfo.image_height = image.shape[0];
  cinfo.input_components = image.shape[2];
  cinfo.in_color_space = image.shape[2] == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(&image.bytes[static_cast<size_t>(cinfo.next_scanline) * image.shape[1] * image.shape[2]]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

HostTensor FlatImage(int h, int w, int c, uint8_t value) {
  return Make<uint8_t>(DType::kUInt8, {h, w, c}, std::vector<uint8_t>(static_cast<size_t>(h) * w * c, value));
}

// Ten samples [10,2] valued 0..19, labelled i % 3.
Dataset Numbered() {
  Dataset d;
  d.source = "numbered";
  std::vector<float> v(20);
  for (int i = 0; i < 20; ++i) v[i] = static_cast<float>(i);
  d.samples = Make<float>(DType::kFloat32, {10, 2}, v);
  for (int i = 0; i < 10; ++i) d.labels.push_back(i % 3);
  return d;
}

std::vector<float> FirstOfEach(const Dataset& d) {
  std::vector<float> firsts;
  for (int64_t i = 0; i < d.size(); ++i) firsts.push_back(d.samples.data<float>()[2 * i]);
  return firsts;
}

InputSpec Input(DType dtype, Shape shape, float scale = 0, int64_t zero_point = 0) {
  InputSpec in;
  in.name = "in";
  in.dtype = dtype;
  in.shape = std::move(shape);
  if (scale > 0) in.quant.scale = {scale}, in.quant.zero_point = {zero_point};
  return in;
}

bool Contains(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

TEST_F(DataTest, NpyRoundTripsEveryDtype) {
  for (DType d : {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16, DType::kInt32, DType::kInt64}) {
    HostTensor t;
    t.dtype = d;
    t.shape = {2, 3};
    t.bytes.resize(6 * DTypeSize(d));
    for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>(i * 37 + 1);
    ASSERT_TRUE(WriteNpy(Path("a.npy"), t).ok());
    auto back = ReadNpy(Path("a.npy"));
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->dtype, d);
    EXPECT_EQ(back->shape, t.shape);
    EXPECT_EQ(back->bytes, t.bytes);
    EXPECT_EQ(fs::file_size(Path("a.npy")) % 64, t.bytes.size() % 64);  // header padded to 64
  }
  HostTensor scalar;
  scalar.dtype = DType::kFloat32;
  scalar.bytes.resize(4);
  ASSERT_TRUE(WriteNpy(Path("s.npy"), scalar).ok());
  EXPECT_TRUE(ReadNpy(Path("s.npy"))->shape.empty());
}

TEST_F(DataTest, NpyErrorsSayWhatIsWrong) {
  std::ofstream(Path("junk.npy")) << "not numpy";
  EXPECT_NE(ReadNpy(Path("junk.npy")).status().message().find("\\x93NUMPY"), std::string::npos);
  // A valid header that promises more data than the file has.
  HostTensor t;
  t.dtype = DType::kInt16;
  t.shape = {4};
  t.bytes.resize(8);
  ASSERT_TRUE(WriteNpy(Path("t.npy"), t).ok());
  fs::resize_file(Path("t.npy"), fs::file_size(Path("t.npy")) - 2);
  auto cut = ReadNpy(Path("t.npy"));
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cut.status().message().find("needs 8 bytes of data, the file has 6"), std::string::npos)
      << cut.status().message();
  EXPECT_EQ(ReadNpy(Path("missing.npy")).status().code(), StatusCode::kNotFound);
}

TEST_F(DataTest, BmpGreyAndColour) {
  QAUDIT_REQUIRE_FIXTURES();
  auto grey = ReadBmp(testing::Fixture("tflite-micro/person.bmp"));
  ASSERT_TRUE(grey.ok()) << grey.status().message();
  EXPECT_EQ(grey->shape, (Shape{96, 96, 1}));
  auto colour = ReadBmp(testing::Fixture("coral/grace_hopper.bmp"));
  ASSERT_TRUE(colour.ok()) << colour.status().message();
  EXPECT_EQ(colour->shape, (Shape{600, 512, 3}));
  const HostTensor small = ResizeImage(*colour, 2, 2);
  EXPECT_EQ(small.shape, (Shape{2, 2, 3}));
  // Resizing to the same size keeps every pixel.
  EXPECT_EQ(ResizeImage(*grey, 96, 96).bytes, grey->bytes);
}

TEST_F(DataTest, FashionMnistIdx) {
  const std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  const std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  QAUDIT_REQUIRE_FASHION_MNIST();
  auto l = ReadIdx(labels);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->shape, (Shape{10000}));
  const std::vector<uint8_t> first = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};  // as the dataset documents
  EXPECT_EQ(std::vector<uint8_t>(l->bytes.begin(), l->bytes.begin() + 10), first);
  auto i = ReadIdx(images);
  ASSERT_TRUE(i.ok()) << i.status().message();
  EXPECT_EQ(i->shape, (Shape{10000, 28, 28}));
}

TEST_F(DataTest, NpzStoredAndCompressed) {
  const HostTensor x = Make<float>(DType::kFloat32, {3, 2}, {1, 2, 3, 4, 5, 6});
  const HostTensor y = Make<int64_t>(DType::kInt64, {3}, {2, 0, 1});
  const HostTensor other = Make<int16_t>(DType::kInt16, {2}, {-7, 7});
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed ? "deflated" : "stored");
    const std::string path = Path(compressed ? "c.npz" : "s.npz");
    WriteNpz(path, {{"other", other}, {"x", x}, {"y", y}}, compressed);
    auto arrays = ReadNpz(path);
    ASSERT_TRUE(arrays.ok()) << arrays.status().message();
    ASSERT_EQ(arrays->size(), 3u);
    EXPECT_EQ((*arrays)[1].name, "x");
    EXPECT_EQ((*arrays)[1].array.bytes, x.bytes);
    EXPECT_EQ((*arrays)[0].array.bytes, other.bytes);
    // x is preferred over the first array; y gives the labels.
    auto d = LoadDataset(path);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d->samples.shape, (Shape{3, 2}));
    EXPECT_EQ(d->labels, (std::vector<int32_t>{2, 0, 1}));
    auto explicit_key = LoadDataset(path + ":other");
    ASSERT_TRUE(explicit_key.ok()) << explicit_key.status().message();
    EXPECT_EQ(explicit_key->samples.bytes, other.bytes);
    EXPECT_TRUE(explicit_key->labels.empty());  // 3 labels do not fit 2 samples: not labels of these
    auto missing = LoadDataset(path + ":z");
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(Contains(missing.status(), "no array 'z' (it has other, x, y)")) << missing.status().message();
  }
  // A flipped byte in the data fails the CRC (stored) or the inflate (deflated).
  for (const char* name : {"s.npz", "c.npz"}) {
    std::fstream f(Path(name), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(120);
    f.put('\x55');
    f.close();
    auto bad = ReadNpz(Path(name));
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(Contains(bad.status(), Path(name))) << bad.status().message();
  }
  std::ofstream(Path("junk.npz")) << "not a zip file at all, just text";
  EXPECT_TRUE(Contains(ReadNpz(Path("junk.npz")).status(), "no end-of-central-directory"));
}

TEST_F(DataTest, SelectionSyntaxAndOrder) {
  auto s = ParseDatasetSelection("2:8,classes=1/2,random=3,seed=7");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->offset, 2);
  EXPECT_EQ(s->limit, 6);
  EXPECT_EQ(s->classes, (std::vector<int>{1, 2}));
  EXPECT_EQ(s->random_subset, 3);
  EXPECT_EQ(s->seed, 7u);
  EXPECT_EQ(ParseDatasetSelection("5:")->limit, -1);
  EXPECT_EQ(ParseDatasetSelection(":4")->limit, 4);
  for (const char* bad : {"5:2", "a:b", "random=0", "classes=1/x", "colour=red", "17", "-1:3"}) {
    EXPECT_EQ(ParseDatasetSelection(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }

  const Dataset d = Numbered();
  auto sliced = SelectSamples(d, *ParseDatasetSelection("3:6"));
  ASSERT_TRUE(sliced.ok());
  EXPECT_EQ(FirstOfEach(*sliced), (std::vector<float>{6, 8, 10}));
  EXPECT_EQ(sliced->labels, (std::vector<int32_t>{0, 1, 2}));
  // Classes first (samples 1, 4, 7), then the slice of those.
  auto class_one = SelectSamples(d, *ParseDatasetSelection("classes=1,1:"));
  ASSERT_TRUE(class_one.ok());
  EXPECT_EQ(FirstOfEach(*class_one), (std::vector<float>{8, 14}));
  EXPECT_EQ(SelectSamples(d, *ParseDatasetSelection("8:100"))->size(), 2);  // a slice stops at the end

  auto r1 = SelectSamples(d, *ParseDatasetSelection("random=4,seed=11"));
  auto r2 = SelectSamples(d, *ParseDatasetSelection("random=4,seed=11"));
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(FirstOfEach(*r1), FirstOfEach(*r2));
  const std::vector<float> picked = FirstOfEach(*r1);
  EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end()));
  EXPECT_EQ(std::set<float>(picked.begin(), picked.end()).size(), 4u);
  bool another_seed_differs = false;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    DatasetSelection other;
    other.random_subset = 4;
    other.seed = seed;
    another_seed_differs |= FirstOfEach(*SelectSamples(d, other)) != picked;
  }
  EXPECT_TRUE(another_seed_differs);

  EXPECT_TRUE(Contains(SelectSamples(d, *ParseDatasetSelection("random=11")).status(), "random=11 but only 10"));
  EXPECT_TRUE(Contains(SelectSamples(d, *ParseDatasetSelection("11:")).status(), "offset 11 is past the 10"));
  Dataset unlabelled = d;
  unlabelled.labels.clear();
  EXPECT_TRUE(Contains(SelectSamples(unlabelled, *ParseDatasetSelection("classes=0")).status(), "needs labels"));

  // The same through a spec string.
  ASSERT_TRUE(WriteNpy(Path("n.npy"), d.samples).ok());
  auto loaded = LoadDataset(Path("n.npy") + "[2:4]");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(FirstOfEach(*loaded), (std::vector<float>{4, 6}));
  EXPECT_EQ(LoadDataset(Path("nothing.npy")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LoadDataset(Path("n.txt")).status().code(), StatusCode::kNotFound);
}

TEST_F(DataTest, PreprocessSyntax) {
  auto p = ParsePreprocess("resize=224x160,channels=rgb,scale=1/255,mean=0.485/0.456/0.406,std=0.229/0.224/0.225,layout=nchw");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->resize_height, 224);
  EXPECT_EQ(p->resize_width, 160);
  EXPECT_EQ(p->channels, 3);
  EXPECT_FLOAT_EQ(*p->scale, 1.0f / 255);
  EXPECT_EQ(p->mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(p->std.size(), 3u);
  EXPECT_EQ(p->layout, Preprocess::Layout::kNCHW);
  EXPECT_TRUE(ParsePreprocess("raw")->raw);
  EXPECT_FALSE(ParsePreprocess("")->normalises());
  EXPECT_FLOAT_EQ(*ParsePreprocess("scale=1/127.5")->scale, 1.0f / 127.5f);
  for (const char* bad : {"scale=0", "scale=1/0", "scale=x", "resize=224", "resize=0x3", "channels=2", "std=1/0",
                          "std=0", "layout=hwc", "colour=1", "flip", "raw,scale=1", "mean=0.5/", "scale=1e40"}) {
    auto r = ParsePreprocess(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(Contains(ParsePreprocess("resize=ax2").status(), "'resize=ax2' needs HEIGHTxWIDTH"));
}

TEST_F(DataTest, FitToInputValues) {
  // ImageNet normalisation of one RGB pixel, by hand: (255/255 - 0.485) / 0.229,
  // (128/255 - 0.456) / 0.224, (0/255 - 0.406) / 0.225.
  Dataset pixel;
  pixel.source = "pixel";
  pixel.samples = Make<uint8_t>(DType::kUInt8, {1, 1, 1, 3}, {255, 128, 0});
  auto imagenet = ParsePreprocess("scale=1/255,mean=0.485/0.456/0.406,std=0.229/0.224/0.225");
  auto f = FitToInput(pixel, Input(DType::kFloat32, {1, 1, 1, 3}), *imagenet);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->shape, (Shape{1, 1, 1, 3}));
  EXPECT_NEAR(f->data<float>()[0], 2.248908f, 1e-5);
  EXPECT_NEAR(f->data<float>()[1], 0.205182f, 1e-5);
  EXPECT_NEAR(f->data<float>()[2], -1.804444f, 1e-5);
  // uint8 into float defaults to / 255.
  EXPECT_EQ(Values<float>(*FitToInput(pixel, Input(DType::kFloat32, {1, 3}))), (std::vector<float>{1.0f, 128 / 255.0f, 0}));

  // Quantizing: q = round_half_away(real / 0.5) - 1, clamped.
  Dataset reals;
  reals.source = "reals";
  reals.samples = Make<float>(DType::kFloat32, {1, 7}, {-1.0f, 0.5f, 0.25f, -0.25f, 100.0f, -100.0f, 0.1f});
  auto q8 = FitToInput(reals, Input(DType::kInt8, {1, 7}, 0.5f, -1));
  ASSERT_TRUE(q8.ok()) << q8.status().message();
  EXPECT_EQ(Values<int8_t>(*q8), (std::vector<int8_t>{-3, 0, 0, -2, 127, -128, -1}));
  auto qu8 = FitToInput(reals, Input(DType::kUInt8, {1, 7}, 0.5f, 128));
  EXPECT_EQ(Values<uint8_t>(*qu8), (std::vector<uint8_t>{126, 129, 129, 127, 255, 0, 128}));
  auto q16 = FitToInput(reals, Input(DType::kInt16, {1, 7}, 1.0f / 256, 0));
  EXPECT_EQ(Values<int16_t>(*q16), (std::vector<int16_t>{-256, 128, 64, -64, 25600, -25600, 26}));

  // Same dtype: passed through; raw: uint8 - 128 into int8 whatever the scale.
  Dataset bytes;
  bytes.source = "bytes";
  bytes.samples = Make<uint8_t>(DType::kUInt8, {2, 2}, {0, 127, 128, 255});
  EXPECT_EQ(Values<uint8_t>(*FitToInput(bytes, Input(DType::kUInt8, {1, 2}, 0.1f, 3))), (std::vector<uint8_t>{0, 127, 128, 255}));
  auto raw = FitToInput(bytes, Input(DType::kInt8, {1, 2}, 1 / 127.5f, -1), *ParsePreprocess("raw"));
  EXPECT_EQ(Values<int8_t>(*raw), (std::vector<int8_t>{-128, -1, 0, 127}));
  EXPECT_EQ(raw->shape, (Shape{2, 2}));
  // Without raw, pixels become [0, 1] and are quantized with the input's parameters.
  auto normal = FitToInput(bytes, Input(DType::kInt8, {1, 2}, 1 / 255.0f, -128));
  EXPECT_EQ(Values<int8_t>(*normal), (std::vector<int8_t>{-128, -1, 0, 127}));
}

TEST_F(DataTest, FitToInputShapes) {
  // Grey 2x2 images into an RGB 4x4 input: channels repeated, resized bilinearly.
  Dataset grey;
  grey.source = "grey";
  grey.samples = Make<uint8_t>(DType::kUInt8, {1, 2, 2}, {0, 100, 100, 200});
  auto rgb = FitToInput(grey, Input(DType::kUInt8, {1, 4, 4, 3}));
  ASSERT_TRUE(rgb.ok()) << rgb.status().message();
  EXPECT_EQ(rgb->shape, (Shape{1, 4, 4, 3}));
  EXPECT_EQ(rgb->bytes[0], 0);
  EXPECT_EQ(rgb->bytes[1], 0);
  EXPECT_EQ(rgb->bytes.back(), 200);
  // Same element count: only reshaped, [N,2,2] to [N,4] and [N,2,2,1].
  EXPECT_EQ(FitToInput(grey, Input(DType::kUInt8, {1, 4}))->shape, (Shape{1, 4}));
  EXPECT_EQ(FitToInput(grey, Input(DType::kUInt8, {1, 2, 2, 1}))->shape, (Shape{1, 2, 2, 1}));
  // NCHW: [1,1,2,3] HWC pixels to [1,3,1,2].
  Dataset hwc;
  hwc.source = "hwc";
  hwc.samples = Make<uint8_t>(DType::kUInt8, {1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  auto chw = FitToInput(hwc, Input(DType::kUInt8, {1, 3, 1, 2}), *ParsePreprocess("layout=nchw"));
  ASSERT_TRUE(chw.ok()) << chw.status().message();
  EXPECT_EQ(Values<uint8_t>(*chw), (std::vector<uint8_t>{1, 4, 2, 5, 3, 6}));
  // RGB to grey by BT.601 luma: 0.299*200 + 0.587*100 + 0.114*50 = 124.4.
  hwc.samples = Make<uint8_t>(DType::kUInt8, {1, 1, 1, 3}, {200, 100, 50});
  EXPECT_EQ(Values<uint8_t>(*FitToInput(hwc, Input(DType::kUInt8, {1, 1, 1, 1}), *ParsePreprocess("channels=grey"))),
            (std::vector<uint8_t>{124}));
  // An input without a batch dimension of 1 takes [N, ...shape].
  EXPECT_EQ(FitToInput(grey, Input(DType::kUInt8, {2, 2}))->shape, (Shape{1, 2, 2}));
}

TEST_F(DataTest, FitToInputErrors) {
  Dataset d = Numbered();
  auto mismatch = FitToInput(d, Input(DType::kFloat32, {1, 3}));
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(mismatch.status(), "numbered: samples of shape [2] (2 values) do not fit input 'in' [1,3]"))
      << mismatch.status().message();
  d.samples.data<float>()[7] = std::nanf("");
  EXPECT_TRUE(Contains(FitToInput(d, Input(DType::kFloat32, {1, 2})).status(), "numbered: sample 3 element 1 is nan"));
  d.samples.data<float>()[7] = INFINITY;
  EXPECT_TRUE(Contains(FitToInput(d, Input(DType::kInt8, {1, 2}, 1, 0)).status(), "sample 3 element 1 is inf"));
  Dataset empty;
  empty.source = "empty.npy";
  empty.samples = Make<float>(DType::kFloat32, {0, 2}, {});
  EXPECT_TRUE(Contains(FitToInput(empty, Input(DType::kFloat32, {1, 2})).status(), "empty.npy: the dataset has no samples"));
  d = Numbered();
  EXPECT_TRUE(Contains(FitToInput(d, Input(DType::kInt8, {1, 2})).status(), "has no quantization scale"));
  EXPECT_TRUE(Contains(FitToInput(d, Input(DType::kInt8, {1, 2}, 1, 0), *ParsePreprocess("raw")).status(), "raw feeds"));
  EXPECT_TRUE(Contains(FitToInput(d, Input(DType::kFloat32, {1, 2}), *ParsePreprocess("mean=1/2/3")).status(),
                       "3 mean or std values for 2 channels"));
  EXPECT_EQ(FitToInput(d, Input(DType::kInt32, {1, 2})).status().code(), StatusCode::kUnsupported);
}

TEST_F(DataTest, ImageFilesAndFolders) {
  // PNG and JPEG decode to what was written (JPEG at quality 100 of flat colours: within 1).
  HostTensor colour = FlatImage(3, 5, 3, 0);
  for (size_t i = 0; i < colour.bytes.size(); ++i) colour.bytes[i] = static_cast<uint8_t>(i * 17);
  WritePng(Path("c.png"), colour);
  auto png = ReadImage(Path("c.png"));
  ASSERT_TRUE(png.ok()) << png.status().message();
  EXPECT_EQ(png->shape, (Shape{3, 5, 3}));
  EXPECT_EQ(png->bytes, colour.bytes);
  WriteJpeg(Path("g.jpg"), FlatImage(16, 8, 1, 77));
  auto jpeg = ReadImage(Path("g.jpg"));
  ASSERT_TRUE(jpeg.ok()) << jpeg.status().message();
  EXPECT_EQ(jpeg->shape, (Shape{16, 8, 1}));
  EXPECT_NEAR(jpeg->bytes[40], 77, 1);
  std::ofstream(Path("bad.jpg"), std::ios::binary) << std::string("\xff\xd8\xff\xe0 truncated", 14);
  auto bad_jpeg = ReadImage(Path("bad.jpg"));
  EXPECT_EQ(bad_jpeg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad_jpeg.status(), "bad.jpg: unsupported or corrupt JPEG")) << bad_jpeg.status().message();

  // One subfolder per class, in name order; images of mixed formats, sizes and channels.
  fs::create_directories(dir_ / "classes" / "b_dog");
  fs::create_directories(dir_ / "classes" / "a_cat");
  WritePng(Path("classes/a_cat/1.png"), FlatImage(4, 4, 3, 10));
  WriteBmp(Path("classes/a_cat/2.bmp"), FlatImage(8, 8, 3, 20));
  WriteJpeg(Path("classes/b_dog/3.jpg"), FlatImage(8, 8, 1, 30));
  std::ofstream(Path("classes/b_dog/notes.txt")) << "not an image";
  auto folder = LoadDataset(Path("classes"), *ParsePreprocess("resize=4x4,channels=rgb"));
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  EXPECT_EQ(folder->samples.shape, (Shape{3, 4, 4, 3}));
  EXPECT_EQ(folder->labels, (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(folder->class_names, (std::vector<std::string>{"a_cat", "b_dog"}));
  EXPECT_EQ(folder->samples.bytes[48], 20);
  EXPECT_NEAR(folder->samples.bytes[96], 30, 1);
  auto dogs = LoadDataset(Path("classes") + "[classes=1]", *ParsePreprocess("resize=2x2"));
  ASSERT_TRUE(dogs.ok()) << dogs.status().message();
  EXPECT_EQ(dogs->samples.shape, (Shape{1, 2, 2, 1}));  // the first picked image's channels
  // Without resize=, sizes must agree, and the error says so.
  auto unsized = LoadDataset(Path("classes"));
  EXPECT_TRUE(Contains(unsized.status(), "2.bmp: image is 8x8 (HxW), the first of")) << unsized.status().message();
  EXPECT_TRUE(Contains(unsized.status(), "give resize=HxW"));

  // A flat folder has no labels; a single image file is a dataset of one.
  fs::create_directories(dir_ / "flat");
  WritePng(Path("flat/x.png"), FlatImage(2, 3, 1, 5));
  WritePng(Path("flat/y.png"), FlatImage(2, 3, 1, 6));
  auto flat = LoadDataset(Path("flat"));
  ASSERT_TRUE(flat.ok()) << flat.status().message();
  EXPECT_EQ(flat->samples.shape, (Shape{2, 2, 3, 1}));
  EXPECT_TRUE(flat->labels.empty());
  EXPECT_EQ(LoadDataset(Path("flat/y.png"))->samples.shape, (Shape{1, 2, 3, 1}));
  fs::create_directories(dir_ / "none");
  EXPECT_EQ(LoadDataset(Path("none")).status().code(), StatusCode::kNotFound);
}

TEST_F(DataTest, BuiltInFashionMnist) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  auto test = LoadDataset("fmnist");
  ASSERT_TRUE(test.ok()) << test.status().message();
  EXPECT_EQ(test->samples.shape, (Shape{10000, 28, 28}));
  ASSERT_EQ(test->labels.size(), 10000u);
  EXPECT_EQ(std::vector<int32_t>(test->labels.begin(), test->labels.begin() + 10),
            (std::vector<int32_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  ASSERT_EQ(test->class_names.size(), 10u);
  EXPECT_EQ(test->class_names[0], "T-shirt/top");
  EXPECT_EQ(test->class_names[9], "Ankle boot");
  EXPECT_EQ(LoadDataset("fmnist:test")->samples.bytes, test->samples.bytes);

  auto train = LoadDataset("fmnist:train[0:1000]");
  ASSERT_TRUE(train.ok()) << train.status().message();
  EXPECT_EQ(train->size(), 1000);
  EXPECT_EQ(train->labels.size(), 1000u);
  auto few = LoadDataset("fmnist:test[classes=5/9,random=100,seed=1]");
  ASSERT_TRUE(few.ok()) << few.status().message();
  EXPECT_EQ(few->size(), 100);
  for (int32_t label : few->labels) EXPECT_TRUE(label == 5 || label == 9) << label;
  EXPECT_TRUE(Contains(LoadDataset("fmnist:valid").status(), "fmnist:test and fmnist:train"));

  // Into a float [1,28,28,1] model: reshaped and scaled to [0, 1].
  auto batch = FitToInput(*few, Input(DType::kFloat32, {1, 28, 28, 1}));
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->shape, (Shape{100, 28, 28, 1}));
  const std::vector<float> v = Values<float>(*batch);
  EXPECT_EQ(*std::max_element(v.begin(), v.end()), 1.0f);
  EXPECT_EQ(*std::min_element(v.begin(), v.end()), 0.0f);
  // An IDX path finds its sibling labels file.
  auto idx = LoadDataset(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz[:10]");
  ASSERT_TRUE(idx.ok()) << idx.status().message();
  EXPECT_EQ(std::vector<int32_t>(idx->labels.begin(), idx->labels.end()), (std::vector<int32_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
}

}  // namespace
}  // namespace qaudit
