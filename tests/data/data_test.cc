// NPY, BMP and IDX reading and writing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
  if (!fs::exists(labels)) GTEST_SKIP() << labels << " is missing (install dataset-fashion-mnist)";
  auto l = ReadIdx(labels);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->shape, (Shape{10000}));
  const std::vector<uint8_t> first = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};  // as the dataset documents
  EXPECT_EQ(std::vector<uint8_t>(l->bytes.begin(), l->bytes.begin() + 10), first);
  auto i = ReadIdx(images);
  ASSERT_TRUE(i.ok()) << i.status().message();
  EXPECT_EQ(i->shape, (Shape{10000, 28, 28}));
}

}  // namespace
}  // namespace qaudit
