// REF grammar, aliases and the choice of files among a repository's siblings (hub/ref.h).
#include "hub/ref.h"

#include <gtest/gtest.h>

#include "io/gguf_split.h"

namespace autarky::hub {
namespace {

TEST(HubRef, ParsesRepoQuantFileAndRevision) {
  auto plain = ParseRef("unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->owner, "unsloth");
  EXPECT_EQ(plain->repo, "DeepSeek-R1-Distill-Qwen-1.5B-GGUF");
  EXPECT_EQ(plain->revision, "main");
  EXPECT_TRUE(plain->quant.empty());
  EXPECT_TRUE(plain->file.empty());
  EXPECT_EQ(plain->Canonical(), "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF");

  auto quant = ParseRef("Qwen/Qwen2.5-0.5B-Instruct-GGUF:q8_0");
  ASSERT_TRUE(quant.ok());
  EXPECT_EQ(quant->quant, "Q8_0");  // quantization names are case-insensitive, kept upper case
  EXPECT_EQ(quant->Canonical(), "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0");

  auto file = ParseRef("unsloth/DeepSeek-R1-GGUF/DeepSeek-R1-Q4_K_M/x-00001-of-00009.gguf@v2.1");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->repo, "DeepSeek-R1-GGUF");
  EXPECT_EQ(file->file, "DeepSeek-R1-Q4_K_M/x-00001-of-00009.gguf");
  EXPECT_EQ(file->revision, "v2.1");
  EXPECT_EQ(file->Canonical(),
            "unsloth/DeepSeek-R1-GGUF/DeepSeek-R1-Q4_K_M/x-00001-of-00009.gguf@v2.1");
}

TEST(HubRef, RejectsUnsafeAndMalformedRefs) {
  for (const char* bad :
       {"", "noslash", "../x/y", "owner/..", "a/b/../../etc/passwd", "a/b//c", "a/b/",
        "owner/re po", "a/b:Q4_K_M/file.gguf", "a/b@", "a/b@x/y", "a/b/c\\d.gguf",
        "a/b:", "/abs/path", "owner/repo/./f.gguf", "unknown-alias:7b"}) {
    EXPECT_FALSE(ParseRef(bad).ok()) << "accepted '" << bad << "'";
  }
  const std::string message = ParseRef("llama9:1b").status().message();
  EXPECT_NE(message.find("deepseek-r1:1.5b"), std::string::npos) << message;  // lists aliases
}

TEST(HubRef, EveryAliasParsesToAQuantizedRepo) {
  ASSERT_GE(AliasTable().size(), 7u);
  for (const Alias& alias : AliasTable()) {
    auto ref = ParseRef(alias.name);
    ASSERT_TRUE(ref.ok()) << alias.name << ": " << ref.status().message();
    EXPECT_EQ(ref->alias, alias.name);
    EXPECT_EQ(ref->Canonical(), alias.ref);
    EXPECT_FALSE(ref->quant.empty()) << alias.name;
    EXPECT_TRUE(LooksLikeRef(alias.name));
  }
  auto r1 = ParseRef("DeepSeek-R1:1.5B");  // aliases are case-insensitive
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->RepoId(), "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF");
  EXPECT_EQ(r1->quant, "Q4_K_M");
  for (const char* size : {"deepseek-r1:7b", "deepseek-r1:8b", "deepseek-r1:14b", "deepseek-r1:32b",
                           "deepseek-r1:70b", "qwen2.5:0.5b"}) {
    EXPECT_TRUE(ParseRef(size).ok()) << size;
  }
}

TEST(HubRef, LooksLikeRefSeparatesPathsFromRefs) {
  EXPECT_TRUE(LooksLikeRef("owner/repo"));
  EXPECT_TRUE(LooksLikeRef("owner/repo:Q8_0"));
  EXPECT_FALSE(LooksLikeRef("model.gguf"));
  EXPECT_FALSE(LooksLikeRef("./models/x.gguf"));
  EXPECT_FALSE(LooksLikeRef("/abs/x.gguf"));
  EXPECT_FALSE(LooksLikeRef("~/x.gguf"));
}

TEST(HubRef, SafeRepoPaths) {
  EXPECT_TRUE(IsSafeRepoPath("a.gguf"));
  EXPECT_TRUE(IsSafeRepoPath("dir/sub/a b.gguf"));
  for (const char* bad : {"", "/a", "a/", "..", "a/../b", "./a", "a//b", "a\\b", "a\nb", "\x7f"}) {
    EXPECT_FALSE(IsSafeRepoPath(bad)) << "'" << bad << "'";
  }
}

TEST(HubRef, ShardNamesAndQuantizations) {
  auto shard = ParseGgufSplitName("dir/qwen2.5-7b-instruct-q4_k_m-00002-of-00003.gguf");
  ASSERT_TRUE(shard.has_value());
  EXPECT_EQ(shard->prefix, "dir/qwen2.5-7b-instruct-q4_k_m");
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 3);
  EXPECT_FALSE(ParseGgufSplitName("a-00004-of-00003.gguf").has_value());  // index beyond count
  EXPECT_FALSE(ParseGgufSplitName("a-00000-of-00003.gguf").has_value());
  EXPECT_FALSE(ParseGgufSplitName("a-0001-of-0003.gguf").has_value());
  EXPECT_FALSE(ParseGgufSplitName("a-00001-of-00003.bin").has_value());

  EXPECT_EQ(QuantOfFileName("DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"), "Q4_K_M");
  EXPECT_EQ(QuantOfFileName("qwen2.5-0.5b-instruct-q8_0.gguf"), "Q8_0");
  EXPECT_EQ(QuantOfFileName("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf"), "Q4_K_M");
  EXPECT_EQ(QuantOfFileName("DeepSeek-R1-Distill-Qwen-1.5B-UD-Q4_K_XL.gguf"), "UD-Q4_K_XL");
  EXPECT_EQ(QuantOfFileName("Llama-3.2-1B-Instruct-IQ4_XS.gguf"), "IQ4_XS");
  EXPECT_EQ(QuantOfFileName("model.BF16.gguf"), "BF16");
  EXPECT_EQ(QuantOfFileName("model.gguf"), "");
}

std::vector<RepoFile> UnslothListing() {
  return {{".gitattributes", 1570, "", "a6344aac8c09253b3b630fb776ae94478aa0275b"},
          {"README.md", 20000, "", "0123"},
          {"DeepSeek-R1-Distill-Qwen-1.5B-Q2_K.gguf", 752880000, "11", ""},
          {"DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf", 1117320000, "22", ""},
          {"DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf", 1894530000, "33", ""},
          {"DeepSeek-R1-Distill-Qwen-1.5B-UD-Q4_K_XL.gguf", 1120000000, "44", ""},
          {"mmproj-F16.gguf", 600000000, "55", ""},
          {"config.json", 800, "", "66"}};
}

TEST(HubSelect, DefaultIsQ4KMAndQuantByName) {
  const auto siblings = UnslothListing();
  auto def = SelectFiles(*ParseRef("unsloth/R1-GGUF"), siblings);
  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_EQ(def->kind, SelectionKind::kGguf);
  EXPECT_EQ(def->primary, "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf");
  ASSERT_EQ(def->files.size(), 1u);
  EXPECT_EQ(def->files[0].sha256, "22");
  EXPECT_EQ(def->quant, "Q4_K_M");

  auto q8 = SelectFiles(*ParseRef("unsloth/R1-GGUF:q8_0"), siblings);
  ASSERT_TRUE(q8.ok());
  EXPECT_EQ(q8->primary, "DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf");
  auto xl = SelectFiles(*ParseRef("unsloth/R1-GGUF:Q4_K_XL"), siblings);
  ASSERT_TRUE(xl.ok()) << xl.status().message();
  EXPECT_EQ(xl->primary, "DeepSeek-R1-Distill-Qwen-1.5B-UD-Q4_K_XL.gguf");

  auto missing = SelectFiles(*ParseRef("unsloth/R1-GGUF:Q6_K"), siblings);
  ASSERT_FALSE(missing.ok());
  // The error lists what there is, and never offers the vision projector.
  const std::string message = missing.status().message();
  EXPECT_NE(message.find("Q2_K, Q4_K_M, Q8_0, UD-Q4_K_XL"), std::string::npos) << message;
  EXPECT_EQ(message.find("mmproj"), std::string::npos) << message;
}

TEST(HubSelect, ExplicitFileAndMissingFile) {
  const auto siblings = UnslothListing();
  auto file =
      SelectFiles(*ParseRef("unsloth/R1-GGUF/DeepSeek-R1-Distill-Qwen-1.5B-Q2_K.gguf"), siblings);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->primary, "DeepSeek-R1-Distill-Qwen-1.5B-Q2_K.gguf");
  EXPECT_EQ(file->files.size(), 1u);
  EXPECT_FALSE(SelectFiles(*ParseRef("unsloth/R1-GGUF/nope.gguf"), siblings).ok());
}

TEST(HubSelect, ShardedSetsPullEveryPart) {
  const std::vector<RepoFile> siblings = {
      {"qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf", 100, "b", ""},
      {"qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", 200, "a", ""},
      {"qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf", 300, "c", ""},
      {"qwen2.5-7b-instruct-q8_0-00002-of-00003.gguf", 300, "d", ""},
      {"qwen2.5-7b-instruct-q8_0-00003-of-00003.gguf", 300, "e", ""}};
  auto def = SelectFiles(*ParseRef("Qwen/Qwen2.5-7B-Instruct-GGUF"), siblings);
  ASSERT_TRUE(def.ok()) << def.status().message();
  ASSERT_EQ(def->files.size(), 2u);
  EXPECT_EQ(def->files[0].name, "qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf");
  EXPECT_EQ(def->files[1].name, "qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf");
  EXPECT_EQ(def->primary, def->files[0].name);

  // Naming any part selects the whole set, opened at part 1.
  auto part = SelectFiles(
      *ParseRef("Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q8_0-00003-of-00003.gguf"),
      siblings);
  ASSERT_TRUE(part.ok());
  ASSERT_EQ(part->files.size(), 3u);
  EXPECT_EQ(part->primary, "qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf");

  // A set with a part missing on the hub is an error, not a partial download.
  std::vector<RepoFile> broken = siblings;
  broken.pop_back();
  EXPECT_FALSE(SelectFiles(*ParseRef("Qwen/Q-GGUF:Q8_0"), broken).ok());
}

TEST(HubSelect, SafetensorsSetWhenNoGguf) {
  const std::vector<RepoFile> siblings = {{".gitattributes", 10, "", "x"},
                                          {"config.json", 700, "", "y"},
                                          {"generation_config.json", 180, "", "z"},
                                          {"model-00001-of-00002.safetensors", 1000, "s1", ""},
                                          {"model-00002-of-00002.safetensors", 500, "s2", ""},
                                          {"model.safetensors.index.json", 24000, "", "i"},
                                          {"tokenizer.json", 7000000, "", "t"},
                                          {"tokenizer_config.json", 3000, "", "u"},
                                          {"figures/benchmark.jpg", 77777, "j", ""},
                                          {"README.md", 15000, "", "r"}};
  auto set = SelectFiles(*ParseRef("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"), siblings);
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->kind, SelectionKind::kSafetensors);
  EXPECT_TRUE(set->primary.empty());
  std::vector<std::string> names;
  for (const RepoFile& f : set->files) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "config.json", "generation_config.json", "model-00001-of-00002.safetensors",
                       "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                       "tokenizer.json", "tokenizer_config.json"}));
  // An explicit quantization in a folder without GGUF files is an error.
  EXPECT_FALSE(SelectFiles(*ParseRef("deepseek-ai/R1:Q4_K_M"), siblings).ok());
  EXPECT_FALSE(SelectFiles(*ParseRef("x/empty"), {{"README.md", 1, "", "r"}}).ok());
}

TEST(HubSelect, SingleGgufWithoutQ4KMIsTakenAndAmbiguityIsAnError) {
  auto single =
      SelectFiles(*ParseRef("Qwen/Qwen3-0.6B-GGUF"), {{"Qwen3-0.6B-Q8_0.gguf", 9, "q", ""}});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->primary, "Qwen3-0.6B-Q8_0.gguf");
  auto two =
      SelectFiles(*ParseRef("x/y"), {{"a-Q4_K_M.gguf", 1, "a", ""}, {"b-Q4_K_M.gguf", 1, "b", ""}});
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("a-Q4_K_M.gguf, b-Q4_K_M.gguf"), std::string::npos);
  auto several =
      SelectFiles(*ParseRef("x/y"), {{"a-Q8_0.gguf", 1, "a", ""}, {"a-Q6_K.gguf", 1, "b", ""}});
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.status().message().find("Q6_K, Q8_0"), std::string::npos)
      << several.status().message();
}

}  // namespace
}  // namespace autarky::hub
