// Tests of GgufWriter: exact layout, round trips of every value and tensor type, streaming
// errors, and that an output file only appears (or is replaced) when writing succeeded.
#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "unit/io/gguf_test_bytes.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using testing::GgufBytes;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

TEST(GgufWriterTest, WritesTheLayoutByteForByte) {
  // The same file built independently, byte by byte.
  GgufBytes expected;
  expected.Header(2, 2);
  expected.KeyStr("general.architecture", "llama");
  expected.Key("a", GgufBytes::kArr).ArrayHeader(GgufBytes::kI32, 2);
  expected.Fixed<int32_t>(-1).Fixed<int32_t>(7);
  expected.TensorInfo("x", {8, 2}, 0, 0);  // F32, 64 bytes
  expected.TensorInfo("y", {32}, 8, 64);   // Q8_0, 34 bytes, padded to 64
  expected.PadTo(32).Pattern(64, 1).Pattern(34, 2).PadTo(32);

  GgufWriter writer;
  writer.Set("general.architecture", GgufValue::String("llama"));
  writer.Set("a", GgufValue::Array(std::vector<int32_t>{-1, 7}));
  ASSERT_TRUE(writer.AddTensor("x", DType::kF32, {8, 2}).ok());
  ASSERT_TRUE(writer.AddTensor("y", DType::kQ8_0, {32}).ok());
  ASSERT_TRUE(writer.BeginInMemory().ok());
  EXPECT_EQ(writer.next_tensor(), "x");
  ASSERT_TRUE(writer.WriteTensor("x", Pattern(64, 1)).ok());
  EXPECT_EQ(writer.next_tensor(), "y");
  ASSERT_TRUE(writer.WriteTensor("y", Pattern(34, 2)).ok());
  EXPECT_EQ(writer.next_tensor(), "");
  ASSERT_TRUE(writer.Finish().ok());
  EXPECT_EQ(writer.file_size(), expected.size());
  EXPECT_EQ(writer.TakeBuffer(), expected.bytes());
}

TEST(GgufWriterTest, EveryMetadataTypeRoundTrips) {
  std::vector<std::pair<std::string, GgufValue>> values = {
      {"u8", GgufValue::U8(255)},
      {"i8", GgufValue::I8(-128)},
      {"u16", GgufValue::U16(65535)},
      {"i16", GgufValue::I16(-32768)},
      {"u32", GgufValue::U32(4294967295u)},
      {"i32", GgufValue::I32(std::numeric_limits<int32_t>::min())},
      {"f32", GgufValue::F32(-1.25e-3f)},
      {"bool_t", GgufValue::Bool(true)},
      {"bool_f", GgufValue::Bool(false)},
      {"str", GgufValue::String("h\xc3\xa9llo\n")},
      {"empty", GgufValue::String("")},
      {"u64", GgufValue::U64(std::numeric_limits<uint64_t>::max())},
      {"i64", GgufValue::I64(std::numeric_limits<int64_t>::min())},
      {"f64", GgufValue::F64(3.141592653589793)},
      {"nan", GgufValue::F32(std::numeric_limits<float>::quiet_NaN())},
      {"a_u8", GgufValue::Array(std::vector<uint8_t>{0, 1, 255})},
      {"a_i8", GgufValue::Array(std::vector<int8_t>{-1, 1})},
      {"a_u16", GgufValue::Array(std::vector<uint16_t>{1, 65535})},
      {"a_i16", GgufValue::Array(std::vector<int16_t>{-2})},
      {"a_u32", GgufValue::Array(std::vector<uint32_t>{})},
      {"a_i32", GgufValue::Array(std::vector<int32_t>{1, 2, 3})},
      {"a_f32", GgufValue::Array(std::vector<float>{0.5f, -0.0f})},
      {"a_bool", GgufValue::BoolArray({true, false, true})},
      {"a_str", GgufValue::StringArray(std::vector<std::string>{"<s>", "", "\xe2\x96\x81the"})},
      {"a_u64", GgufValue::Array(std::vector<uint64_t>{~uint64_t{0}})},
      {"a_i64", GgufValue::Array(std::vector<int64_t>{-5, 5})},
      {"a_f64", GgufValue::Array(std::vector<double>{1e300})},
      {"nested", GgufValue::ArrayOfArrays(
                     {GgufValue::Array(std::vector<uint32_t>{1, 2}),
                      GgufValue::StringArray(std::vector<std::string>{"x"}),
                      GgufValue::ArrayOfArrays({GgufValue::Array(std::vector<float>{2.5f})}),
                      GgufValue::ArrayOfArrays({})})},
  };
  GgufWriter writer;
  for (const auto& [key, value] : values) writer.Set(key, value);
  ASSERT_TRUE(writer.BeginInMemory().ok());
  ASSERT_TRUE(writer.Finish().ok());
  const std::vector<uint8_t> bytes = writer.TakeBuffer();
  Result<GgufFile> file = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ(file->metadata().size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(values[i].first);
    EXPECT_EQ(file->metadata()[i].key, values[i].first);  // insertion order kept
    EXPECT_TRUE(file->metadata()[i].value == values[i].second);
  }
  // Spot checks through the typed getters (operator== above compares bits).
  EXPECT_EQ(*file->GetI8("i8"), -128);
  EXPECT_EQ(*file->GetString("str"), "h\xc3\xa9llo\n");
  EXPECT_TRUE(std::isnan(*file->GetF32("nan")));
  EXPECT_EQ(file->GetStringArray("a_str")->size(), 3u);
  EXPECT_EQ((*file->GetArray("nested"))->items()[2].items()[0].At<float>(0), 2.5f);
  // The vocabulary-only file is padded to the alignment by default, as ggml does.
  EXPECT_EQ(bytes.size() % kGgufDefaultAlignment, 0u);
}

TEST(GgufWriterTest, EveryTensorTypeRoundTrips) {
  size_t n_types = 0;
  const DType* types = AllDTypes(&n_types);
  std::mt19937 rng(42);
  GgufWriter writer;
  std::vector<std::vector<uint8_t>> data;
  std::vector<std::vector<int64_t>> shapes;
  for (size_t i = 0; i < n_types; ++i) {
    const DTypeTraits& traits = Traits(types[i]);
    // Two blocks per row, three rows; and a 4-D shape for every other type.
    std::vector<int64_t> shape = {2 * traits.block_elems, 3};
    if (i % 2 == 1) shape = {traits.block_elems, 2, 1, 2};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint8_t> bytes(*RowBytes(types[i], n));
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    ASSERT_TRUE(
        writer.AddTensor(std::string("t.") + std::string(traits.name), types[i], shape).ok());
    data.push_back(std::move(bytes));
    shapes.push_back(shape);
  }
  ASSERT_TRUE(writer.BeginInMemory().ok());
  for (size_t i = 0; i < n_types; ++i) {
    ASSERT_TRUE(writer.WriteTensor(writer.next_tensor(), data[i]).ok());
  }
  ASSERT_TRUE(writer.Finish().ok());
  const std::vector<uint8_t> bytes = writer.TakeBuffer();
  Result<GgufFile> file = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ(file->tensors().size(), n_types);
  for (size_t i = 0; i < n_types; ++i) {
    const GgufTensorInfo& t = file->tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.type, types[i]);
    EXPECT_EQ(std::vector<int64_t>(t.shape().begin(), t.shape().end()), shapes[i]);
    ASSERT_EQ(t.n_bytes, data[i].size());
    EXPECT_EQ(std::memcmp(t.data, data[i].data(), t.n_bytes), 0);
    EXPECT_EQ(t.file_offset % kGgufDefaultAlignment, 0u);
  }
  EXPECT_EQ(bytes.size() % kGgufDefaultAlignment, 0u);
}

TEST(GgufWriterTest, AlignmentComesFromMetadata) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    GgufWriter writer;
    writer.Set("general.alignment", GgufValue::U32(alignment));
    ASSERT_TRUE(writer.AddTensor("a", DType::kF32, {3}).ok());
    ASSERT_TRUE(writer.AddTensor("b", DType::kF16, {5}).ok());
    ASSERT_TRUE(writer.BeginInMemory().ok());
    ASSERT_TRUE(writer.WriteTensor("a", Pattern(12, 0)).ok());
    ASSERT_TRUE(writer.WriteTensor("b", Pattern(10, 1)).ok());
    ASSERT_TRUE(writer.Finish().ok());
    const std::vector<uint8_t> bytes = writer.TakeBuffer();
    Result<GgufFile> file = GgufFile::Parse(bytes.data(), bytes.size());
    ASSERT_TRUE(file.ok()) << file.status().message();
    EXPECT_EQ(file->alignment(), alignment);
    EXPECT_EQ(file->tensors()[1].offset, (12 + alignment - 1) / alignment * alignment);
    EXPECT_EQ(file->tensors()[1].data[0], 1);
    EXPECT_EQ(bytes.size() % alignment, 0u);
  }
  for (const GgufValue& bad : {GgufValue::U32(0), GgufValue::U32(24), GgufValue::I32(32),
                               GgufValue::U32(kGgufMaxAlignment * 2)}) {
    GgufWriter writer;
    writer.Set("general.alignment", bad);
    Status s = writer.BeginInMemory();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("general.alignment"), std::string::npos) << s.message();
  }
}

TEST(GgufWriterTest, SetReplacesInPlaceAndCopiesFromAFile) {
  GgufBytes source;
  source.Header(0, 3, 2).KeyStr("general.name", "m").KeyU32("general.file_type", 0);
  source.Key("tokens", GgufBytes::kArr).ArrayHeader(GgufBytes::kStr, 2).Str("a").Str("b");
  std::vector<uint8_t> source_bytes = source.bytes();
  Result<GgufFile> file = GgufFile::Parse(source_bytes.data(), source_bytes.size());
  ASSERT_TRUE(file.ok()) << file.status().message();
  GgufWriter writer;
  writer.CopyMetadataFrom(*file);
  EXPECT_EQ(writer.version(), 2u);
  // The copy owns its bytes: scribbling over the source must not change it.
  std::fill(source_bytes.begin(), source_bytes.end(), 0);
  writer.Set("general.file_type", GgufValue::U32(15));
  writer.Set("general.quantized_by", GgufValue::String("autarky"));
  EXPECT_TRUE(writer.Remove("general.name"));
  EXPECT_FALSE(writer.Remove("general.name"));
  ASSERT_EQ(writer.metadata().size(), 3u);
  EXPECT_EQ(writer.metadata()[0].first, "general.file_type");
  EXPECT_EQ(writer.metadata()[1].first, "tokens");
  EXPECT_EQ(writer.metadata()[2].first, "general.quantized_by");
  EXPECT_EQ(writer.Find("tokens")->strings()[1], "b");
  EXPECT_EQ(writer.Find("general.file_type")->Get<uint32_t>(), 15u);
  ASSERT_TRUE(writer.BeginInMemory().ok());
  ASSERT_TRUE(writer.Finish().ok());
  const std::vector<uint8_t> bytes = writer.TakeBuffer();
  Result<GgufFile> copy = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  EXPECT_EQ(copy->version(), 2u);
  EXPECT_EQ(*copy->GetU32("general.file_type"), 15u);
  EXPECT_EQ((*copy->GetStringArray("tokens"))[0], "a");
}

TEST(GgufWriterTest, RefusesBadTensorDeclarations) {
  GgufWriter writer;
  ASSERT_TRUE(writer.AddTensor("ok", DType::kQ4_K, {256, 2}).ok());
  auto error = [&](std::string_view name, DType type, std::vector<int64_t> dims) {
    Status s = writer.AddTensor(name, type, dims);
    return s.ok() ? std::string("ok") : s.message();
  };
  EXPECT_EQ(error("", DType::kF32, {1}), "tensor name is empty");
  EXPECT_NE(error(std::string(64, 'n'), DType::kF32, {1}).find("longer than 63 bytes"),
            std::string::npos);
  EXPECT_TRUE(writer.AddTensor(std::string(63, 'n'), DType::kF32, {1}).ok());
  EXPECT_EQ(error("ok", DType::kF32, {1}), "tensor 'ok': duplicate name");
  EXPECT_EQ(error("t", DType::kF32, {}), "tensor 't': 0 dimensions (1 to 4 allowed)");
  EXPECT_EQ(error("t", DType::kF32, {1, 1, 1, 1, 1}), "tensor 't': 5 dimensions (1 to 4 allowed)");
  EXPECT_EQ(error("t", DType::kF32, {4, 0}), "tensor 't': dimension 1 is 0, not positive");
  EXPECT_EQ(error("t", DType::kF32, {int64_t{1} << 40, int64_t{1} << 40}),
            "tensor 't': more than INT64_MAX elements");
  EXPECT_EQ(error("t", DType::kQ4_K, {128, 2}),
            "tensor 't': rows of 128 elements are not a multiple of the Q4_K block size 256");
  EXPECT_EQ(writer.tensor_count(), 2u);
}

TEST(GgufWriterTest, RefusesDataOutOfOrderOrOfTheWrongSize) {
  auto make = [](GgufWriter* w) {
    ASSERT_TRUE(w->AddTensor("a", DType::kF32, {4}).ok());
    ASSERT_TRUE(w->AddTensor("b", DType::kF32, {2}).ok());
    ASSERT_TRUE(w->BeginInMemory().ok());
  };
  {
    GgufWriter w;
    make(&w);
    Status s = w.WriteTensor("b", Pattern(8, 0));
    EXPECT_EQ(s.message(),
              "<memory>: tensor 'b': data given out of order; expected tensor 'a' next");
    // The writer stays failed.
    EXPECT_EQ(w.WriteTensor("a", Pattern(16, 0)).message(), s.message());
    EXPECT_FALSE(w.Finish().ok());
  }
  {
    GgufWriter w;
    make(&w);
    EXPECT_EQ(w.WriteTensor("a", Pattern(15, 0)).message(),
              "<memory>: tensor 'a': 15 bytes given, its type and shape need 16");
  }
  {
    GgufWriter w;
    make(&w);
    ASSERT_TRUE(w.AppendTensorData(Pattern(10, 0)).ok());
    // A piece may not run into the next tensor.
    EXPECT_EQ(w.AppendTensorData(Pattern(14, 0)).message(),
              "<memory>: tensor 'a': 14 bytes given, only 6 left of its 16");
  }
  {
    GgufWriter w;
    make(&w);
    ASSERT_TRUE(w.WriteTensor("a", Pattern(16, 0)).ok());
    EXPECT_EQ(w.Finish().message(), "<memory>: tensor 'b' (2 of 2) has not received all its data");
  }
  {
    GgufWriter w;
    make(&w);
    ASSERT_TRUE(w.WriteTensor("a", Pattern(16, 0)).ok());
    ASSERT_TRUE(w.WriteTensor("b", Pattern(8, 0)).ok());
    EXPECT_EQ(w.AppendTensorData(Pattern(1, 0)).message(),
              "<memory>: 1 bytes of data given after the last tensor");
  }
  {
    GgufWriter w;
    w.SetVersion(1);
    EXPECT_EQ(w.BeginInMemory().message(), "<memory>: GGUF version 1 cannot be written (2 or 3)");
  }
  {
    GgufWriter w;
    w.Set("", GgufValue::U8(0));
    EXPECT_EQ(w.BeginInMemory().message(), "<memory>: a metadata key is empty");
  }
}

// ---- the output file appears only when complete ----

class GgufWriterFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("gguf_writer_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "model.gguf").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void WriteExisting() { std::ofstream(path_, std::ios::binary) << "previous contents"; }

  fs::path dir_;
  std::string path_;
};

TEST_F(GgufWriterFileTest, ReplacesTheFileOnlyAtFinish) {
  WriteExisting();
  GgufWriter writer;
  writer.Set("general.name", GgufValue::String("new"));
  ASSERT_TRUE(writer.AddTensor("a", DType::kF32, {4}).ok());
  ASSERT_TRUE(writer.Begin(path_).ok());
  ASSERT_TRUE(writer.WriteTensor("a", Pattern(16, 0)).ok());
  EXPECT_EQ(Contents(), "previous contents");
  ASSERT_EQ(Entries().size(), 2u);  // the file and the temporary one beside it
  EXPECT_EQ(Entries()[1].rfind("model.gguf.tmp-", 0), 0u);
  ASSERT_TRUE(writer.Finish().ok());
  EXPECT_EQ(Entries(), std::vector<std::string>{"model.gguf"});
  Result<GgufFile> file = GgufFile::Open(path_);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->GetString("general.name"), "new");
  EXPECT_EQ(file->file_size(), writer.file_size());
}

TEST_F(GgufWriterFileTest, AbandonedOrFailedWritesLeaveNothingBehind) {
  WriteExisting();
  {
    GgufWriter writer;
    ASSERT_TRUE(writer.AddTensor("a", DType::kF32, {4}).ok());
    ASSERT_TRUE(writer.Begin(path_).ok());
    ASSERT_TRUE(writer.AppendTensorData(Pattern(8, 0)).ok());
  }  // destroyed before Finish
  EXPECT_EQ(Entries(), std::vector<std::string>{"model.gguf"});
  EXPECT_EQ(Contents(), "previous contents");
  {
    GgufWriter writer;
    ASSERT_TRUE(writer.AddTensor("a", DType::kF32, {4}).ok());
    ASSERT_TRUE(writer.Begin(path_).ok());
    EXPECT_FALSE(writer.WriteTensor("a", Pattern(3, 0)).ok());
    EXPECT_EQ(Entries(), std::vector<std::string>{"model.gguf"});  // removed at the failure
    EXPECT_FALSE(writer.Finish().ok());
  }
  EXPECT_EQ(Contents(), "previous contents");
}

TEST_F(GgufWriterFileTest, ReportsAMissingDirectory) {
  GgufWriter writer;
  const std::string path = (dir_ / "no" / "such" / "dir.gguf").string();
  Status s = writer.Begin(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot create " + path + ".tmp-"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace autarky
