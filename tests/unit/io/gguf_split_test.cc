// OpenGgufModel on split sets written here the way llama.cpp's gguf-split lays them out: the set
// reads as the unsplit file (same metadata minus split.*, same tensor bytes, same model), from
// any part's name; inconsistent sets are refused with the part named.
#include "io/gguf_split.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf_writer.h"
#include "model/model.h"
#include "tools/random_model.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;

class GgufSplitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("autarky-split-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    whole_ = (dir_ / "whole.gguf").string();
    tools::RandomModelOptions o;
    o.output = whole_;
    o.arch = "qwen2";
    ASSERT_TRUE(tools::ApplyRandomModelPreset("tiny", &o).ok());
    o.seed = 4;
    o.progress = false;
    o.threads = 1;
    ASSERT_TRUE(tools::WriteRandomModel(o).ok());
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string PartPath(int index, int count) const {
    char tail[32];
    std::snprintf(tail, sizeof tail, "-%05d-of-%05d.gguf", index, count);
    return (dir_ / ("model" + std::string(tail))).string();
  }

  // Writes whole_ as `count` parts; `first_tensors[i]` = index of part i's first tensor.
  // `tamper(i, writer)` may change part i's keys before it is written.
  template <typename Tamper>
  void WriteSplit(int count, Tamper tamper) {
    auto whole = GgufFile::Open(whole_);
    ASSERT_TRUE(whole.ok()) << whole.status().message();
    const auto& tensors = whole->tensors();
    const size_t n = tensors.size();
    for (int part = 0; part < count; ++part) {
      const size_t begin = n * part / count, end = n * (part + 1) / count;
      GgufWriter w;
      if (part == 0) w.CopyMetadataFrom(*whole);
      w.Set("split.no", GgufValue::U16(static_cast<uint16_t>(part)));
      w.Set("split.count", GgufValue::U16(static_cast<uint16_t>(count)));
      w.Set("split.tensors.count", GgufValue::I32(static_cast<int32_t>(n)));
      tamper(part, w);
      for (size_t t = begin; t < end; ++t) {
        ASSERT_TRUE(w.AddTensor(tensors[t].name, tensors[t].type, tensors[t].shape()).ok());
      }
      ASSERT_TRUE(w.Begin(PartPath(part + 1, count)).ok());
      for (size_t t = begin; t < end; ++t) {
        ASSERT_TRUE(w.WriteTensor(tensors[t].name, {tensors[t].data, tensors[t].n_bytes}).ok());
      }
      ASSERT_TRUE(w.Finish().ok());
    }
  }
  void WriteSplit(int count) {
    WriteSplit(count, [](int, GgufWriter&) {});
  }

  fs::path dir_;
  std::string whole_;
};

TEST_F(GgufSplitTest, NameParsing) {
  const auto name = ParseGgufSplitName("/m/DeepSeek-R1-Q4_K_M-00002-of-00009.gguf");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->prefix, "/m/DeepSeek-R1-Q4_K_M");
  EXPECT_EQ(name->index, 2);
  EXPECT_EQ(name->count, 9);
  EXPECT_EQ(GgufSplitPath(*name, 9), "/m/DeepSeek-R1-Q4_K_M-00009-of-00009.gguf");
  EXPECT_FALSE(ParseGgufSplitName("model.gguf"));
  EXPECT_FALSE(ParseGgufSplitName("m-00003-of-00002.gguf"));  // index past the count
  EXPECT_FALSE(ParseGgufSplitName("m-00000-of-00002.gguf"));
  EXPECT_FALSE(ParseGgufSplitName("m-0001-of-00002.gguf"));
  EXPECT_FALSE(ParseGgufSplitName("m-00001-of-00002.bin"));
}

TEST_F(GgufSplitTest, ASetReadsAsTheWholeFileFromAnyPart) {
  WriteSplit(3);
  auto whole = GgufFile::Open(whole_);
  ASSERT_TRUE(whole.ok());
  for (int named = 1; named <= 3; ++named) {
    auto set = OpenGgufModel(PartPath(named, 3));
    ASSERT_TRUE(set.ok()) << set.status().message();
    EXPECT_EQ(set->name(), PartPath(1, 3));
    ASSERT_EQ(set->metadata().size(), whole->metadata().size());  // split.* removed
    for (size_t i = 0; i < whole->metadata().size(); ++i) {
      EXPECT_EQ(set->metadata()[i].key, whole->metadata()[i].key);
    }
    ASSERT_EQ(set->tensors().size(), whole->tensors().size());
    for (const GgufTensorInfo& t : whole->tensors()) {
      const GgufTensorInfo* s = set->FindTensor(t.name);
      ASSERT_NE(s, nullptr) << t.name;
      EXPECT_EQ(s->type, t.type);
      EXPECT_EQ(s->dims, t.dims);
      ASSERT_EQ(s->n_bytes, t.n_bytes);
      EXPECT_EQ(std::memcmp(s->data, t.data, t.n_bytes), 0) << t.name;
    }
  }
  // The model loads from the set with the same description as from the whole file.
  auto from_set = LoadModel(PartPath(2, 3));
  ASSERT_TRUE(from_set.ok()) << from_set.status().message();
  auto from_whole = LoadModel(whole_);
  ASSERT_TRUE(from_whole.ok());
  EXPECT_EQ((*from_set)->info().n_params, (*from_whole)->info().n_params);
  EXPECT_EQ((*from_set)->info().n_layer, (*from_whole)->info().n_layer);
  // A single file is opened as it is.
  auto single = OpenGgufModel(whole_);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->tensors().size(), whole->tensors().size());
}

TEST_F(GgufSplitTest, AMissingPartIsNamed) {
  WriteSplit(3);
  fs::remove(PartPath(3, 3));
  auto set = OpenGgufModel(PartPath(1, 3));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("part 3 of 3"), std::string::npos)
      << set.status().message();
  EXPECT_NE(set.status().message().find(PartPath(3, 3)), std::string::npos)
      << set.status().message();
}

TEST_F(GgufSplitTest, InconsistentPartsAreRefused) {
  WriteSplit(2, [](int part, GgufWriter& w) {
    if (part == 1) w.Set("split.no", GgufValue::U16(0));  // claims to be the first part too
  });
  auto set = OpenGgufModel(PartPath(1, 2));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("expected part 2 of 2"), std::string::npos)
      << set.status().message();
}

TEST_F(GgufSplitTest, TheDeclaredTensorCountMustMatch) {
  WriteSplit(2, [](int, GgufWriter& w) { w.Set("split.tensors.count", GgufValue::I32(1)); });
  auto set = OpenGgufModel(PartPath(2, 2));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("split.tensors.count is 1"), std::string::npos)
      << set.status().message();
}

TEST_F(GgufSplitTest, APartUnderAnotherNameCannotFindTheOthers) {
  WriteSplit(2);
  const std::string renamed = (dir_ / "renamed.gguf").string();
  fs::rename(PartPath(1, 2), renamed);
  auto set = OpenGgufModel(renamed);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("NAME-IIIII-of-NNNNN.gguf"), std::string::npos)
      << set.status().message();
}

}  // namespace
}  // namespace autarky
