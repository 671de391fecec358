// GGUF reader and writer against the real files in ../shared (made by llama.cpp and gguf-py):
// tensor tables and data checked with the manifest's digests, and byte-identical rewrites.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "testing/digest.h"
#include "testing/shared_data.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using testing::SharedDir;

std::vector<fs::path> SharedGgufFiles() {
  std::vector<fs::path> out;
  for (const char* dir : {"golden/quant", "models", "golden/tokenizer"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(SharedDir() / dir, ec)) {
      if (entry.path().extension() == ".gguf") out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GgufSharedFilesTest, TensorTablesAndDataMatchTheManifest) {
  SKIP_WITHOUT_SHARED("golden/quant/manifest.json");
  SKIP_WITHOUT_SHA256();
  std::ifstream in(SharedDir() / "golden/quant/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(in);
  ASSERT_GE(manifest.size(), 15u);
  for (const auto& [file_name, tensors] : manifest.items()) {
    SCOPED_TRACE(file_name);
    Result<GgufFile> file = GgufFile::Open((SharedDir() / "golden/quant" / file_name).string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    EXPECT_EQ(file->tensors().size(), tensors.size());
    for (const auto& [name, expected] : tensors.items()) {
      SCOPED_TRACE(name);
      const GgufTensorInfo* t = file->FindTensor(name);
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(DTypeName(t->type), expected["type"].get<std::string>());
      EXPECT_EQ(std::vector<int64_t>(t->shape().begin(), t->shape().end()),
                expected["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(testing::Sha256Hex(t->data, t->n_bytes).value(),
                expected["raw_sha256"].get<std::string>());
      EXPECT_EQ(t->file_offset % file->alignment(), 0u);
      // Mapped at a page boundary: the data pointer itself is aligned (kernels may rely on it).
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % file->alignment(), 0u);
    }
  }
}

TEST(GgufSharedFilesTest, AidreamsMetadata) {
  SKIP_WITHOUT_SHARED("models/aidreams260K.gguf");
  Result<GgufFile> file = GgufFile::Open((SharedDir() / "models/aidreams260K.gguf").string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  // The model card in ../shared/README.md: dim 64, 4 layers, 4 heads, vocab 512, F32.
  EXPECT_EQ(*file->GetString("general.architecture"), "llama");
  EXPECT_EQ(*file->GetU32("llama.block_count"), 4u);
  EXPECT_EQ(*file->GetInteger<int64_t>("llama.embedding_length"), 64);
  EXPECT_EQ(*file->GetU32("llama.attention.head_count"), 4u);
  EXPECT_EQ(*file->GetF32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  auto tokens = file->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ(file->GetF32Array("tokenizer.ggml.scores")->size(), 512u);
  EXPECT_EQ(file->GetI32Array("tokenizer.ggml.token_type")->at(0), 2);  // unknown
  // 3 global tensors + 9 per layer.
  EXPECT_EQ(file->tensors().size(), 3u + 9u * 4u);
  for (const GgufTensorInfo& t : file->tensors()) EXPECT_EQ(t.type, DType::kF32) << t.name;
  const GgufTensorInfo* embd = file->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->dims[0], 64);
  EXPECT_EQ(embd->dims[1], 512);
}

TEST(GgufSharedFilesTest, VocabularyFiles) {
  SKIP_WITHOUT_SHARED("golden/tokenizer/qwen2.gguf");
  Result<GgufFile> file = GgufFile::Open((SharedDir() / "golden/tokenizer/qwen2.gguf").string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->GetStringArray("tokenizer.ggml.tokens")->size(), 151669u);
  EXPECT_EQ(file->GetStringArray("tokenizer.ggml.merges")->size(), 151387u);
  EXPECT_EQ(*file->GetString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(*file->GetU32("tokenizer.ggml.bos_token_id"), 151643u);
}

// Cuts a real file at every length up to the end of its tensor infos plus some data, and at a
// stride beyond: each must be refused with a located error.
TEST(GgufSharedFilesTest, TruncatedCopiesAreRefused) {
  SKIP_WITHOUT_SHARED("models/aidreams260K.gguf");
  std::ifstream in(SharedDir() / "models/aidreams260K.gguf", std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  Result<GgufFile> full = GgufFile::Parse(bytes.data(), bytes.size(), "aidreams");
  ASSERT_TRUE(full.ok()) << full.status().message();
  // The last tensor ends the file (its size is a multiple of the alignment).
  const GgufTensorInfo& last = full->tensors().back();
  ASSERT_EQ(last.file_offset + last.n_bytes, bytes.size());
  const size_t dense_end = full->data_offset() + 64;
  constexpr size_t kStride = 997;  // prime: lands at varied offsets within tensors
  for (size_t n = 0; n < bytes.size(); n += n < dense_end ? 1 : kStride) {
    Result<GgufFile> cut = GgufFile::Parse(bytes.data(), n, "aidreams");
    ASSERT_FALSE(cut.ok()) << "cut to " << n << " bytes was accepted";
    ASSERT_EQ(cut.status().message().rfind("aidreams: byte ", 0), 0u) << cut.status().message();
  }
}

// Reads each file and writes it back with GgufWriter: the bytes must be identical.
std::vector<uint8_t> Rewrite(const GgufFile& file) {
  GgufWriter writer;
  writer.CopyMetadataFrom(file);
  // Vocabulary-only files from gguf-py end right after the metadata; ggml pads them.
  writer.set_pad_without_tensors(file.file_size() > file.metadata_end());
  for (const GgufTensorInfo& t : file.tensors()) {
    Status s = writer.AddTensor(t.name, t.type, t.shape());
    EXPECT_TRUE(s.ok()) << s.message();
  }
  Status s = writer.BeginInMemory();
  EXPECT_TRUE(s.ok()) << s.message();
  for (const GgufTensorInfo& t : file.tensors()) {
    s = writer.WriteTensor(t.name, t.data, t.n_bytes);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  s = writer.Finish();
  EXPECT_TRUE(s.ok()) << s.message();
  return writer.TakeBuffer();
}

TEST(GgufSharedFilesTest, RewritesAreByteIdentical) {
  SKIP_WITHOUT_SHARED("golden/quant/fixture-f32.gguf");
  const std::vector<fs::path> paths = SharedGgufFiles();
  ASSERT_GE(paths.size(), 25u);  // 15 quant fixtures, the model, 9 vocabularies
  for (const fs::path& path : paths) {
    SCOPED_TRACE(path.string());
    Result<GgufFile> file = GgufFile::Open(path.string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    const std::vector<uint8_t> rewritten = Rewrite(*file);
    ASSERT_EQ(rewritten.size(), file->file_size());
    EXPECT_TRUE(std::equal(rewritten.begin(), rewritten.end(), file->file_data()));
  }
}

TEST(GgufSharedFilesTest, StreamedRewriteToDiskIsByteIdentical) {
  SKIP_WITHOUT_SHARED("golden/quant/fixture-Q4_K.gguf");
  const fs::path source = SharedDir() / "golden/quant/fixture-Q4_K.gguf";
  const fs::path out = fs::path(::testing::TempDir()) / "gguf_stream_rewrite.gguf";
  Result<GgufFile> file = GgufFile::Open(source.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  {
    GgufWriter writer;
    writer.CopyMetadataFrom(*file);
    for (const GgufTensorInfo& t : file->tensors()) {
      ASSERT_TRUE(writer.AddTensor(t.name, t.type, t.shape()).ok());
    }
    ASSERT_TRUE(writer.Begin(out.string()).ok());
    // Data in pieces of one row, as a quantizer produces it.
    for (const GgufTensorInfo& t : file->tensors()) {
      const size_t row_bytes = t.n_bytes / static_cast<size_t>(t.n_rows());
      for (int64_t r = 0; r < t.n_rows(); ++r) {
        Status s = writer.AppendTensorData({t.data + r * row_bytes, row_bytes});
        ASSERT_TRUE(s.ok()) << s.message();
      }
    }
    ASSERT_TRUE(writer.Finish().ok());
  }
  Result<GgufFile> copy = GgufFile::Open(out.string());
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  ASSERT_EQ(copy->file_size(), file->file_size());
  EXPECT_EQ(std::memcmp(copy->file_data(), file->file_data(), file->file_size()), 0);
  fs::remove(out);
}

}  // namespace
}  // namespace autarky
