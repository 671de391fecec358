// Tests of GgufFile: values of every type, tensor infos, and precise errors on malformed input.
#include "io/gguf_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "unit/io/gguf_test_bytes.h"

namespace autarky {
namespace {

using testing::GgufBytes;

constexpr uint32_t kF32Id = 0;
constexpr uint32_t kQ8_0Id = 8;
constexpr size_t kQ8_0BlockBytes = 34;  // f16 scale + 32 int8

Result<GgufFile> ParseBytes(const std::vector<uint8_t>& bytes) {
  return GgufFile::Parse(bytes.data(), bytes.size(), "t.gguf");
}

// Asserts the parse fails with a message containing "t.gguf: byte <at>: " and `what`.
void ExpectError(const std::vector<uint8_t>& bytes, uint64_t at, const std::string& what) {
  Result<GgufFile> file = ParseBytes(bytes);
  ASSERT_FALSE(file.ok()) << "expected an error containing: " << what;
  const std::string& message = file.status().message();
  EXPECT_NE(message.find("t.gguf: byte " + std::to_string(at) + ": "), std::string::npos)
      << message;
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

// A small valid file: three metadata entries and two tensors (F32 {32, 2} and Q8_0 {64}).
// The last tensor's 68 bytes end the file, so every truncation of it is an error.
struct Sample {
  GgufBytes b;
  size_t kv0_at = 0, tensor_infos_at = 0, data_at = 0;
  Sample() {
    b.Header(2, 3);
    kv0_at = b.size();
    b.KeyStr("general.architecture", "llama");
    b.KeyU32("llama.block_count", 4);
    b.Key("tokenizer.ggml.tokens", GgufBytes::kArr).ArrayHeader(GgufBytes::kStr, 3);
    b.Str("<unk>").Str("a").Str("bc");
    tensor_infos_at = b.size();
    b.TensorInfo("a.weight", {32, 2}, kF32Id, 0);
    b.TensorInfo("b.weight", {64}, kQ8_0Id, 256);
    b.PadTo(32);
    data_at = b.size();
    b.Pattern(256, 1).Pattern(2 * kQ8_0BlockBytes, 2);
  }
};

TEST(GgufReaderTest, ParsesSampleFile) {
  Sample s;
  Result<GgufFile> file = ParseBytes(s.b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset(), s.data_at);
  ASSERT_EQ(file->metadata().size(), 3u);
  EXPECT_EQ(file->metadata()[0].key, "general.architecture");
  EXPECT_EQ(file->metadata()[0].offset, s.kv0_at);
  EXPECT_EQ(file->metadata()[2].key, "tokenizer.ggml.tokens");
  EXPECT_EQ(*file->GetString("general.architecture"), "llama");
  EXPECT_EQ(*file->GetU32("llama.block_count"), 4u);
  auto tokens = file->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[2], "bc");
  // Strings are views into the image, not copies.
  EXPECT_GE(reinterpret_cast<const uint8_t*>((*tokens)[0].data()), s.b.bytes().data());
  EXPECT_LT(reinterpret_cast<const uint8_t*>((*tokens)[0].data()), s.b.bytes().data() + s.b.size());

  ASSERT_EQ(file->tensors().size(), 2u);
  const GgufTensorInfo* a = file->FindTensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, DType::kF32);
  EXPECT_EQ(a->n_dims, 2);
  EXPECT_EQ(a->dims[0], 32);
  EXPECT_EQ(a->dims[1], 2);
  EXPECT_EQ(a->dims[2], 1);
  EXPECT_EQ(a->n_elements, 64);
  EXPECT_EQ(a->n_rows(), 2);
  EXPECT_EQ(a->n_bytes, 256u);
  EXPECT_EQ(a->file_offset, s.data_at);
  EXPECT_EQ(a->data, s.b.bytes().data() + s.data_at);
  EXPECT_EQ(a->info_offset, s.tensor_infos_at);
  const GgufTensorInfo* q = file->FindTensor("b.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::kQ8_0);
  EXPECT_EQ(q->n_bytes, 2 * kQ8_0BlockBytes);
  EXPECT_EQ(q->data, s.b.bytes().data() + s.data_at + 256);
  EXPECT_EQ(q->data[0], 2);  // first byte of its Pattern
  EXPECT_EQ(file->FindTensor("c.weight"), nullptr);
  EXPECT_FALSE(file->GetTensor("c.weight").ok());
  EXPECT_NE(file->GetTensor("c.weight").status().message().find("tensor 'c.weight' is missing"),
            std::string::npos);
}

TEST(GgufReaderTest, OpenReadsAFileAndNamesItInErrors) {
  Sample s;
  const std::string path = ::testing::TempDir() + "gguf_reader_open_test.gguf";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(s.b.bytes().data(), 1, s.b.size(), f), s.b.size());
  std::fclose(f);
  {
    Result<GgufFile> file = GgufFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status().message();
    GgufFile moved = std::move(file).value();  // views survive the move
    EXPECT_EQ(*moved.GetString("general.architecture"), "llama");
    EXPECT_EQ(moved.FindTensor("b.weight")->data[0], 2);
  }
  f = std::fopen(path.c_str(), "wb");
  ASSERT_EQ(std::fwrite(s.b.bytes().data(), 1, 100, f), 100u);
  std::fclose(f);
  Result<GgufFile> truncated = GgufFile::Open(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().message().rfind(path + ": byte ", 0), 0u)
      << truncated.status().message();
  std::remove(path.c_str());
  Result<GgufFile> missing = GgufFile::Open(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
}

TEST(GgufReaderTest, EveryTruncationIsAnError) {
  Sample s;
  const std::vector<uint8_t>& full = s.b.bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    Result<GgufFile> file = ParseBytes(cut);
    ASSERT_FALSE(file.ok()) << "a file cut to " << n << " bytes was accepted";
    EXPECT_EQ(file.status().message().rfind("t.gguf: byte ", 0), 0u) << file.status().message();
  }
  EXPECT_TRUE(ParseBytes(full).ok());
  // Parsing from a null pointer is an empty file, not a crash.
  EXPECT_FALSE(GgufFile::Parse(nullptr, 0).ok());
}

TEST(GgufReaderTest, MissingPaddingAfterTheLastTensorIsAccepted) {
  // llama.cpp's mmap loader only needs each tensor's bytes inside the file; writers pad after
  // the last tensor, but a file without that padding is still complete.
  GgufBytes b;
  b.Header(1, 0).TensorInfo("t", {3}, kF32Id, 0).PadTo(32).Pattern(12, 0);
  Result<GgufFile> file = ParseBytes(b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->tensors()[0].n_bytes, 12u);
}

TEST(GgufReaderTest, ReadsEveryValueType) {
  GgufBytes b;
  b.Header(0, 13 + 5);
  b.Key("u8", GgufBytes::kU8).U8(200);
  b.Key("i8", GgufBytes::kI8).Fixed<int8_t>(-100);
  b.Key("u16", GgufBytes::kU16).Fixed<uint16_t>(60000);
  b.Key("i16", GgufBytes::kI16).Fixed<int16_t>(-30000);
  b.Key("u32", GgufBytes::kU32).U32(4000000000u);
  b.Key("i32", GgufBytes::kI32).Fixed<int32_t>(-2000000000);
  b.Key("f32", GgufBytes::kF32).Fixed<float>(1.5f);
  b.Key("bool", GgufBytes::kBool).U8(1);
  b.Key("str", GgufBytes::kStr).Str("hello");
  b.Key("u64", GgufBytes::kU64).U64(std::numeric_limits<uint64_t>::max());
  b.Key("i64", GgufBytes::kI64).Fixed<int64_t>(std::numeric_limits<int64_t>::min());
  b.Key("f64", GgufBytes::kF64).Fixed<double>(-0.25);
  b.Key("empty_str", GgufBytes::kStr).Str("");
  b.Key("arr_i16", GgufBytes::kArr).ArrayHeader(GgufBytes::kI16, 3);
  b.Fixed<int16_t>(-1).Fixed<int16_t>(2).Fixed<int16_t>(-3);
  b.Key("arr_f32", GgufBytes::kArr).ArrayHeader(GgufBytes::kF32, 2);
  b.Fixed<float>(0.5f).Fixed<float>(-2.0f);
  b.Key("arr_bool", GgufBytes::kArr).ArrayHeader(GgufBytes::kBool, 3).U8(1).U8(0).U8(1);
  b.Key("arr_empty", GgufBytes::kArr).ArrayHeader(GgufBytes::kU64, 0);
  // [[1, 2], ["x"], []] : an array of arrays with different element types.
  b.Key("nested", GgufBytes::kArr).ArrayHeader(GgufBytes::kArr, 3);
  b.ArrayHeader(GgufBytes::kU32, 2).U32(1).U32(2);
  b.ArrayHeader(GgufBytes::kStr, 1).Str("x");
  b.ArrayHeader(GgufBytes::kArr, 0);
  Result<GgufFile> file = ParseBytes(b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->GetU8("u8"), 200);
  EXPECT_EQ(*file->GetI8("i8"), -100);
  EXPECT_EQ(*file->GetU16("u16"), 60000);
  EXPECT_EQ(*file->GetI16("i16"), -30000);
  EXPECT_EQ(*file->GetU32("u32"), 4000000000u);
  EXPECT_EQ(*file->GetI32("i32"), -2000000000);
  EXPECT_EQ(*file->GetF32("f32"), 1.5f);
  EXPECT_EQ(*file->GetBool("bool"), true);
  EXPECT_EQ(*file->GetString("str"), "hello");
  EXPECT_EQ(*file->GetU64("u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*file->GetI64("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*file->GetF64("f64"), -0.25);
  EXPECT_EQ(*file->GetString("empty_str"), "");
  EXPECT_EQ(*file->GetFloat("f32"), 1.5);
  EXPECT_EQ(*file->GetFloat("f64"), -0.25);
  EXPECT_EQ(*file->GetIntegerArray("arr_i16"), (std::vector<int64_t>{-1, 2, -3}));
  EXPECT_EQ(*file->GetF32Array("arr_f32"), (std::vector<float>{0.5f, -2.0f}));
  const GgufValue* bools = *file->GetArray("arr_bool", GgufType::kBool);
  EXPECT_EQ(bools->ToVector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ((*file->GetArray("arr_empty"))->size(), 0u);
  const GgufValue* nested = *file->GetArray("nested", GgufType::kArray);
  ASSERT_EQ(nested->size(), 3u);
  EXPECT_EQ(nested->items()[0].ToVector<uint32_t>(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(nested->items()[1].strings()[0], "x");
  EXPECT_EQ(nested->items()[2].element_type(), GgufType::kArray);
  EXPECT_EQ(nested->items()[2].size(), 0u);
  // Encoded sizes agree with the bytes the file used (the whole file minus keys and headers).
  uint64_t encoded = 24;
  for (const GgufKeyValue& kv : file->metadata())
    encoded += 8 + kv.key.size() + 4 + kv.value.EncodedSize();
  EXPECT_EQ(encoded, b.size());
  // Owned copies equal the borrowed values and survive without the file.
  const GgufValue owned = nested->Owned();
  EXPECT_TRUE(owned == *nested);
}

TEST(GgufReaderTest, TypedGettersNameTheKeyAndTypes) {
  GgufBytes b;
  b.Header(0, 5);
  b.Key("count", GgufBytes::kI32).Fixed<int32_t>(-5);
  b.KeyU32("n", 7);
  b.Key("big", GgufBytes::kU64).U64(uint64_t{1} << 40);
  b.Key("names", GgufBytes::kArr).ArrayHeader(GgufBytes::kStr, 1).Str("a");
  b.Key("huge", GgufBytes::kArr).ArrayHeader(GgufBytes::kU64, 1).U64(~uint64_t{0});
  Result<GgufFile> file = ParseBytes(b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();

  Result<uint32_t> missing = file->GetU32("llama.block_count");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "t.gguf: metadata key 'llama.block_count' is missing");
  Result<uint32_t> wrong = file->GetU32("count");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "t.gguf: metadata key 'count' has type i32, expected u32");
  Result<std::vector<float>> wrong_array = file->GetF32Array("names");
  ASSERT_FALSE(wrong_array.ok());
  EXPECT_EQ(wrong_array.status().message(),
            "t.gguf: metadata key 'names' has type arr[str], expected arr[f32]");
  EXPECT_FALSE(file->GetString("n").ok());
  EXPECT_FALSE(file->GetFloat("n").ok());

  // Integer accessor: any integer type whose value fits.
  EXPECT_EQ(*file->GetInteger<int64_t>("count"), -5);
  EXPECT_EQ(*file->GetInteger<uint8_t>("n"), 7);
  EXPECT_EQ(*file->GetInteger<int64_t>("big"), int64_t{1} << 40);
  Result<uint32_t> negative = file->GetInteger<uint32_t>("count");
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().message(),
            "t.gguf: metadata key 'count' (i32) has value -5, out of range here");
  EXPECT_FALSE(file->GetInteger<int32_t>("big").ok());
  EXPECT_FALSE(file->GetInteger<int32_t>("names").ok());
  EXPECT_FALSE(file->GetIntegerArray("huge").ok());
  // Optional keys.
  EXPECT_EQ(*file->GetIntegerOr<uint32_t>("absent", 9u), 9u);
  EXPECT_EQ(*file->GetIntegerOr<uint32_t>("n", 9u), 7u);
  EXPECT_FALSE(file->GetIntegerOr<uint32_t>("count", 9u).ok());  // present, out of range
  EXPECT_EQ(*file->GetFloatOr("absent", 1e4), 1e4);
  EXPECT_FALSE(file->GetFloatOr("n", 1e4).ok());  // present with another type
  EXPECT_EQ(*file->GetBoolOr("absent", true), true);
  EXPECT_FALSE(file->GetBoolOr("names", true).ok());
  EXPECT_EQ(file->Find("absent"), nullptr);
  EXPECT_TRUE(file->Has("n"));
}

// ---- malformed files: each gives one error naming the byte and the field ----

TEST(GgufReaderTest, BadMagicAndVersion) {
  GgufBytes magic;
  magic.Raw("GGML", 4).U32(3).U64(0).U64(0);
  ExpectError(magic.bytes(), 0, "header: magic is 'GGML', not 'GGUF'");
  GgufBytes v1;
  v1.Header(0, 0, 1);
  ExpectError(v1.bytes(), 4, "GGUF version 1 (32-bit counts) is not supported");
  GgufBytes v4;
  v4.Header(0, 0, 4);
  ExpectError(v4.bytes(), 4, "GGUF version 4 is not supported");
  GgufBytes swapped;
  swapped.Header(0, 0, 0x03000000);
  ExpectError(swapped.bytes(), 4, "big-endian GGUF files are not supported");
  GgufBytes v2;
  v2.Header(0, 1, 2).KeyU32("k", 1);
  Result<GgufFile> ok = ParseBytes(v2.bytes());
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->version(), 2u);
}

TEST(GgufReaderTest, ImpossibleCounts) {
  GgufBytes kv;
  kv.Header(0, uint64_t{1} << 60);
  ExpectError(kv.bytes(), 16,
              "header: metadata count 1152921504606846976 exceeds the limit of 1048576");
  GgufBytes tensors;
  tensors.Header(std::numeric_limits<uint64_t>::max(), 0);
  ExpectError(tensors.bytes(), 8,
              "header: tensor count 18446744073709551615 exceeds the limit of 1048576");
  // A count the remaining bytes cannot hold, even if under the absolute limit.
  GgufBytes small;
  small.Header(0, 3).KeyU32("a", 1);
  ExpectError(small.bytes(), 16,
              "metadata count 3 cannot fit: each needs at least 14 bytes and 17 bytes follow");
}

TEST(GgufReaderTest, HugeLengths) {
  GgufBytes key;
  key.Header(0, 1).U64(uint64_t{1} << 62).Pattern(20, 0);
  ExpectError(key.bytes(), 24,
              "metadata entry 0: key length 4611686018427387904 exceeds the limit");
  GgufBytes str;
  str.Header(0, 1).Key("s", GgufBytes::kStr);
  const size_t at = str.size();
  str.U64(1000).Raw("abc", 3);
  ExpectError(str.bytes(), at + 8, "key 's': string (1000 bytes) runs past the end of the file");
  GgufBytes arr;
  arr.Header(0, 1).Key("tokens", GgufBytes::kArr).U32(GgufBytes::kStr);
  const size_t count_at = arr.size();
  arr.U64(uint64_t{1} << 40).Str("a");
  ExpectError(arr.bytes(), count_at,
              "key 'tokens': array length (str) 1099511627776 exceeds the limit of 1073741824");
  GgufBytes fit;
  fit.Header(0, 1).Key("scores", GgufBytes::kArr).U32(GgufBytes::kF32);
  const size_t fit_at = fit.size();
  fit.U64(5).Fixed<float>(1.f).Fixed<float>(2.f);
  ExpectError(fit.bytes(), fit_at,
              "key 'scores': array length (f32) 5 cannot fit: each needs at least 4 bytes and 8 "
              "bytes follow");
  GgufBytes elem;
  elem.Header(0, 1).Key("tokens", GgufBytes::kArr).ArrayHeader(GgufBytes::kStr, 3).Str("a");
  const size_t elem_at = elem.size();
  elem.U64(99).Str("c");
  ExpectError(elem.bytes(), elem_at + 8, "key 'tokens' element 1: string (99 bytes) runs past");
}

TEST(GgufReaderTest, BadValueTypes) {
  GgufBytes type;
  type.Header(0, 1).Str("k");
  const size_t type_at = type.size();
  type.U32(13).U32(0);
  ExpectError(type.bytes(), type_at, "key 'k': value type id 13 is unknown");
  GgufBytes elem;
  elem.Header(0, 1).Key("k", GgufBytes::kArr);
  const size_t elem_at = elem.size();
  elem.ArrayHeader(0x80000000u, 1).U32(0);
  ExpectError(elem.bytes(), elem_at, "key 'k': array element type id 2147483648 is unknown");
  // Nested arrays are read, but not deeper than the limit.
  GgufBytes deep;
  deep.Header(0, 1).Key("k", GgufBytes::kArr);
  std::vector<size_t> levels;
  for (int i = 0; i < kGgufMaxArrayDepth; ++i) {
    levels.push_back(deep.size());
    deep.ArrayHeader(GgufBytes::kArr, 1);
  }
  deep.ArrayHeader(GgufBytes::kU8, 0);
  ExpectError(deep.bytes(), levels.back(), "arrays nested more than 8 deep are not supported");
  // One level less is fine.
  GgufBytes ok;
  ok.Header(0, 1).Key("k", GgufBytes::kArr);
  for (int i = 0; i < kGgufMaxArrayDepth - 1; ++i) ok.ArrayHeader(GgufBytes::kArr, 1);
  ok.ArrayHeader(GgufBytes::kU8, 0);
  EXPECT_TRUE(ParseBytes(ok.bytes()).ok());
}

TEST(GgufReaderTest, BoolsMustBeZeroOrOne) {
  GgufBytes scalar;
  scalar.Header(0, 1).Key("flag", GgufBytes::kBool);
  const size_t at = scalar.size();
  scalar.U8(2);
  ExpectError(scalar.bytes(), at, "key 'flag': bool value 2 is neither 0 nor 1");
  GgufBytes array;
  array.Header(0, 1).Key("flags", GgufBytes::kArr).ArrayHeader(GgufBytes::kBool, 3);
  const size_t first = array.size();
  array.U8(1).U8(0).U8(255);
  ExpectError(array.bytes(), first + 2, "key 'flags': bool value 255 is neither 0 nor 1");
}

TEST(GgufReaderTest, BadKeys) {
  GgufBytes empty;
  empty.Header(0, 1).KeyU32("", 1);
  ExpectError(empty.bytes(), 24, "metadata entry 0: key is empty");
  GgufBytes dup;
  dup.Header(0, 2).KeyU32("general.x", 1);
  const size_t second = dup.size();
  dup.KeyU32("general.x", 2);
  ExpectError(dup.bytes(), second, "key 'general.x': duplicate key (first at byte 24)");
  // Non-printable bytes of a key are escaped in messages.
  GgufBytes odd;
  odd.Header(0, 1).Key(std::string("a\n\xff", 3), 99).U32(0);
  ExpectError(odd.bytes(), 35, "key 'a\\x0a\\xff': value type id 99 is unknown");
}

TEST(GgufReaderTest, BadAlignment) {
  GgufBytes type;
  type.Header(0, 1).Key("general.alignment", GgufBytes::kI32).Fixed<int32_t>(32);
  ExpectError(type.bytes(), 24, "key 'general.alignment': has type i32, must be u32");
  for (uint32_t bad : {0u, 48u, kGgufMaxAlignment * 2}) {
    GgufBytes value;
    value.Header(0, 1).KeyU32("general.alignment", bad);
    ExpectError(value.bytes(), 24, "alignment " + std::to_string(bad) + " is not a power of two");
  }
  GgufBytes good;
  good.Header(1, 1).KeyU32("general.alignment", 64).TensorInfo("t", {16}, kF32Id, 0);
  good.PadTo(64).Pattern(64, 0);
  Result<GgufFile> file = ParseBytes(good.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->data_offset() % 64, 0u);
}

// A file with one tensor whose info is built by `info`; returns the bytes and where it starts.
template <typename F>
std::vector<uint8_t> OneTensor(F info, size_t data_bytes = 64) {
  GgufBytes b;
  b.Header(1, 0);
  info(b);
  b.PadTo(32).Pattern(data_bytes, 0);
  return b.bytes();
}

TEST(GgufReaderTest, BadTensorInfos) {
  constexpr size_t kInfo = 24;  // the tensor info follows the header directly
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("", {16}, kF32Id, 0); }), kInfo,
              "tensor info 0: tensor name is empty");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo(std::string(5000, 'n'), {16}, 0, 0); }),
              kInfo, "tensor name length 5000 exceeds the limit of 4096 bytes");
  // name "t": its dimension count is at 24 + 8 + 1.
  constexpr size_t kDims = kInfo + 9;
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {}, kF32Id, 0); }), kDims,
              "tensor 't': dimension count 0 is not between 1 and 4");
  ExpectError(OneTensor([](GgufBytes& b) {
                b.TensorInfo("t", {1, 1, 1, 1, 16}, 0, 0);
              }),
              kDims, "dimension count 5 is not between 1 and 4");
  ExpectError(OneTensor([](GgufBytes& b) {
                b.TensorInfo("t", {16, 0}, kF32Id, 0);
              }),
              kDims + 4 + 8, "dimension 1 is 0 (empty tensors are not supported)");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {~uint64_t{0}}, kF32Id, 0); }),
              kDims + 4, "dimension 0 is 18446744073709551615 (more than INT64_MAX)");
  ExpectError(OneTensor([](GgufBytes& b) {
                b.TensorInfo("t", {uint64_t{1} << 32, uint64_t{1} << 30, 4}, kF32Id, 0);
              }),
              kDims + 4 + 16, "shape [4294967296, 1073741824, 4] has more than INT64_MAX elements");
  constexpr size_t kType1d = kDims + 4 + 8;
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("blk.0.attn_q.weight", {16}, 99, 0); }),
              kType1d + 18, "tensor 'blk.0.attn_q.weight': type id 99 is unknown");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {16}, 4, 0); }), kType1d,
              "type id 4 is unknown");  // a removed ggml type (Q4_2)
  ExpectError(OneTensor([](GgufBytes& b) {
                b.TensorInfo("t", {33, 2}, kQ8_0Id, 0);
              }),
              kType1d + 8, "rows of 33 elements are not a multiple of the Q8_0 block size 32");
  ExpectError(OneTensor([](GgufBytes& b) {
                b.TensorInfo("t", {uint64_t{1} << 61, 2}, kF32Id, 0);
              }),
              kType1d + 8, "has too many bytes");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {4}, kF32Id, 16); }), kType1d + 4,
              "data offset 16 is not a multiple of the alignment 32");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {16}, kF32Id, 32); }), kType1d + 4,
              "tensor 't': data at offset 32 (+64 in the file), 64 bytes, runs past the end");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {16}, kF32Id, ~uint64_t{0} << 5); }),
              kType1d + 4, "runs past the end of the file");
  ExpectError(OneTensor([](GgufBytes& b) { b.TensorInfo("t", {17}, kF32Id, 0); }), kType1d + 4,
              "68 bytes, runs past the end of the file (128 bytes)");
}

TEST(GgufReaderTest, DuplicateAndOverlappingTensors) {
  GgufBytes dup;
  dup.Header(2, 0).TensorInfo("t", {8}, kF32Id, 0);
  const size_t second = dup.size();
  dup.TensorInfo("t", {8}, kF32Id, 32).PadTo(32).Pattern(64, 0);
  ExpectError(dup.bytes(), second, "tensor 't': duplicate tensor name (first at byte 24)");

  GgufBytes overlap;
  overlap.Header(3, 0).TensorInfo("a", {8}, kF32Id, 64);  // 32 bytes at 64
  overlap.TensorInfo("b", {16}, kF32Id, 0);               // 64 bytes at 0
  const size_t c_at = overlap.size();
  overlap.TensorInfo("c", {16}, kF32Id, 32);  // 64 bytes at 32: overlaps b and a
  const size_t c_offset_at = overlap.size() - 8;
  overlap.PadTo(32).Pattern(128, 0);
  ExpectError(overlap.bytes(), c_offset_at,
              "tensor 'c': data at offset 32 overlaps tensor 'b' (offset 0, 64 bytes)");
  EXPECT_GT(c_offset_at, c_at);

  // Out-of-order but disjoint offsets are fine.
  GgufBytes order;
  order.Header(2, 0).TensorInfo("a", {8}, kF32Id, 32).TensorInfo("b", {8}, kF32Id, 0);
  order.PadTo(32).Pattern(64, 0);
  Result<GgufFile> file = ParseBytes(order.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->tensors()[0].file_offset, file->data_offset() + 32);
}

TEST(GgufReaderTest, MetadataOnlyFileNeedsNoPadding) {
  GgufBytes b;
  b.Header(0, 1).KeyStr("general.name", "x");
  Result<GgufFile> file = ParseBytes(b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->metadata_end(), b.size());
  EXPECT_EQ(file->data_offset() % 32, 0u);
  EXPECT_TRUE(file->tensors().empty());
}

}  // namespace
}  // namespace autarky
