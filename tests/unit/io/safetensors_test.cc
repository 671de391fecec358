// SafetensorsFile: well-formed files read back exactly; every malformation (truncation, bad
// JSON, bad dtype/shape/offsets, overlaps, header length) is a clean error naming the field.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace autarky {
namespace {

std::vector<uint8_t> Image(const std::string& header, const std::vector<uint8_t>& data) {
  const uint64_t n = header.size();
  std::vector<uint8_t> out(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  for (size_t i = 0; i < header.size(); ++i) out[8 + i] = static_cast<uint8_t>(header[i]);
  for (size_t i = 0; i < data.size(); ++i) out[8 + header.size() + i] = data[i];
  return out;
}

std::vector<uint8_t> Bytes(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + 3);
  return out;
}

Result<SafetensorsFile> ParseImage(const std::vector<uint8_t>& image) {
  return SafetensorsFile::Parse(image.data(), image.size(), "t.safetensors");
}

std::string ErrorOf(const std::string& header, size_t data_bytes) {
  const std::vector<uint8_t> image = Image(header, Bytes(data_bytes));
  auto f = ParseImage(image);
  return f.ok() ? "OK" : f.status().message();
}

TEST(Safetensors, ReadsTensorsMetadataAndData) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("b":{"dtype":"BF16","shape":[2,3],"data_offsets":[16,28]},)"
      R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
      R"("e":{"dtype":"F8_E4M3","shape":[0,5],"data_offsets":[28,28]}}   )";  // padded, as HF
  const std::vector<uint8_t> data = Bytes(28);
  const std::vector<uint8_t> image = Image(header, data);
  auto f = ParseImage(image);
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->data_offset(), 8 + header.size());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  const SafetensorsTensor* a = f->Find("a");
  const SafetensorsTensor* b = f->Find("b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(f->Find("c"), nullptr);
  EXPECT_EQ(f->tensors()[0].name, "a");  // in data order
  EXPECT_EQ(a->dtype, StDType::kF32);
  EXPECT_EQ(a->shape, std::vector<int64_t>({4}));
  EXPECT_EQ(a->n_bytes, 16u);
  EXPECT_EQ(a->data, image.data() + 8 + header.size());
  EXPECT_EQ(b->dtype, StDType::kBF16);
  EXPECT_EQ(b->shape, std::vector<int64_t>({2, 3}));
  EXPECT_EQ(b->n_elements, 6);
  EXPECT_EQ(std::memcmp(b->data, data.data() + 16, 12), 0);
  EXPECT_EQ(f->Find("e")->n_elements, 0);
  EXPECT_EQ(StDTypeSize(StDType::kF8E4M3), 1u);
  EXPECT_EQ(StDTypeName(StDType::kBF16), "BF16");
}

TEST(Safetensors, ScalarHasOneElement) {
  EXPECT_EQ(ErrorOf(R"({"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", 8), "OK");
}

TEST(Safetensors, TruncatedFilesAreErrors) {
  const std::vector<uint8_t> image =
      Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", Bytes(16));
  for (size_t size = 0; size < image.size(); ++size) {
    auto f = SafetensorsFile::Parse(image.data(), size, "t.safetensors");
    ASSERT_FALSE(f.ok()) << "truncated to " << size;
    EXPECT_EQ(f.status().message().rfind("t.safetensors: ", 0), 0u) << f.status().message();
  }
}

TEST(Safetensors, HeaderLengthIsBounded) {
  std::vector<uint8_t> image = Image("{}", {});
  image[7] = 0x80;  // 2^63
  auto f = ParseImage(image);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("exceeds the limit"), std::string::npos);
  image[7] = 0;
  image[0] = 200;  // past the end
  f = ParseImage(image);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("runs past the end of the file"), std::string::npos);
}

struct BadCase {
  const char* header;
  size_t data_bytes;
  const char* message;
};

class SafetensorsMalformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(SafetensorsMalformed, IsACleanError) {
  const BadCase c = GetParam();
  const std::string error = ErrorOf(c.header, c.data_bytes);
  EXPECT_NE(error.find(c.message), std::string::npos) << error;
  EXPECT_EQ(error.rfind("t.safetensors: ", 0), 0u) << error;
}

INSTANTIATE_TEST_SUITE_P(
    All, SafetensorsMalformed,
    ::testing::Values(
        BadCase{R"({"a":)", 0, "not valid JSON"}, BadCase{R"([1,2])", 0, "not a JSON object"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8,
                "run past the data section"},
        BadCase{R"({"a":{"dtype":"F31","shape":[4],"data_offsets":[0,16]}})", 16,
                "dtype 'F31' is not supported"},
        BadCase{R"({"a":{"dtype":7,"shape":[4],"data_offsets":[0,16]}})", 16, "dtype missing"},
        BadCase{R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16,
                "hold 16 bytes, shape [3] of F32 needs 12"},
        BadCase{R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,16]}})", 16,
                "not a non-negative integer"},
        BadCase{R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,16]}})", 16,
                "not a non-negative integer"},
        BadCase{R"({"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", 16,
                "shape missing or not an array"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,16]}})",
                16, "too many elements"},
        BadCase{R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4,
                "more than 8"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})", 16,
                "end before they begin"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", 16,
                "two non-negative integers"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551616]}})", 16,
                "two non-negative integers"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"x":1}})", 16,
                "unknown field 'x'"},
        BadCase{R"({"a":[]})", 0, "entry is not an object"},
        BadCase{R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                16, "overlaps tensor"},
        BadCase{R"({"__metadata__":{"k":1}})", 0, "__metadata__ 'k' is not a string"},
        BadCase{R"({"__metadata__":[]})", 0, "__metadata__ is not an object"},
        BadCase{"{\"\xff\":{}}", 0, "not valid JSON"}));

}  // namespace
}  // namespace autarky
