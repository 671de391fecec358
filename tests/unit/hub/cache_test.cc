// The model cache: manifest JSON round trip and validation, listing, lookup by name and alias,
// and removal that keeps files another manifest uses (hub/cache.h).
#include "hub/cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace autarky::hub {
namespace {
namespace fs = std::filesystem;

class HubCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/autarky_hub_cache_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  void WriteFile(const std::string& path, const std::string& data) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << data;
  }

  Manifest Make(const std::string& name, const std::vector<std::string>& files) {
    Manifest m;
    m.name = name;
    auto ref = ParseRef(name);
    m.repo = ref->RepoId();
    m.revision = ref->revision;
    m.kind = "gguf";
    m.primary = files.front();
    for (const std::string& f : files) m.files.push_back({f, 5, std::string(64, 'a'), ""});
    return m;
  }

  std::string root_;
};

TEST_F(HubCacheTest, ManifestJsonRoundTrip) {
  Manifest m =
      Make("owner/repo:Q4_K_M", {"dir/m-00001-of-00002.gguf", "dir/m-00002-of-00002.gguf"});
  m.aliases = {"owner/repo", "deepseek-r1:1.5b"};
  m.commit = "0123456789abcdef";
  m.pulled_at = "2026-01-02T03:04:05Z";
  auto back = ManifestFromJson(ManifestToJson(m), "test");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->name, m.name);
  EXPECT_EQ(back->aliases, m.aliases);
  EXPECT_EQ(back->repo, "owner/repo");
  EXPECT_EQ(back->revision, "main");
  EXPECT_EQ(back->commit, m.commit);
  EXPECT_EQ(back->primary, m.primary);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[1].name, "dir/m-00002-of-00002.gguf");
  EXPECT_EQ(back->TotalBytes(), 10);
  EXPECT_TRUE(back->Matches("deepseek-r1:1.5b"));
  EXPECT_FALSE(back->Matches("owner/repo:Q8_0"));
}

TEST_F(HubCacheTest, BadManifestsAreRejectedWithTheirOrigin) {
  const Manifest good = Make("owner/repo:Q4_K_M", {"a.gguf"});
  const std::string json = ManifestToJson(good);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = json;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::vector<std::string> bad = {
      "",
      "[]",
      "{",
      with("\"a.gguf\"", "\"../a.gguf\""),
      with("\"size\": 5", "\"size\": -5"),
      with("\"size\": 5", "\"size\": \"5\""),
      with("\"kind\": \"gguf\"", "\"kind\": \"exe\""),
      with("\"primary\": \"a.gguf\"", "\"primary\": \"b.gguf\""),
      with("\"repo\": \"owner/repo\"", "\"repo\": \"other/repo\"")};
  for (const std::string& text : bad) {
    auto m = ManifestFromJson(text, "/cache/m.json");
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_EQ(m.status().message().rfind("/cache/m.json: ", 0), 0u) << m.status().message();
  }
}

TEST_F(HubCacheTest, SaveListFindAndRemoveKeepSharedFiles) {
  ModelCache cache(root_);
  EXPECT_TRUE(cache.List().empty());
  Manifest q4 = Make("owner/repo:Q4_K_M", {"m-Q4_K_M.gguf", "shared.json"});
  q4.aliases = {"owner/repo"};
  const Manifest q8 = Make("owner/repo:Q8_0", {"m-Q8_0.gguf", "shared.json"});
  const std::string dir = cache.RepoDir("owner/repo", "main");
  for (const char* f : {"m-Q4_K_M.gguf", "m-Q8_0.gguf", "shared.json"})
    WriteFile(dir + "/" + f, "12345");
  WriteFile(dir + "/m-Q4_K_M.gguf.part", "12");  // a stale partial download
  ASSERT_TRUE(cache.Save(q4).ok());
  ASSERT_TRUE(cache.Save(q8).ok());
  // A damaged manifest is skipped, not fatal.
  WriteFile(root_ + "/manifests/owner/repo/main/garbage.json", "{not json");

  const std::vector<Manifest> listed = cache.List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "owner/repo:Q4_K_M");
  EXPECT_EQ(listed[1].name, "owner/repo:Q8_0");
  EXPECT_EQ(cache.ModelPath(listed[0]), dir + "/m-Q4_K_M.gguf");

  auto by_alias = cache.Find(*ParseRef("owner/repo"));
  ASSERT_TRUE(by_alias.has_value());
  EXPECT_EQ(by_alias->name, "owner/repo:Q4_K_M");
  EXPECT_TRUE(cache.Find(*ParseRef("owner/repo:q8_0")).has_value());
  EXPECT_FALSE(cache.Find(*ParseRef("owner/repo:Q6_K")).has_value());
  EXPECT_FALSE(cache.Find(*ParseRef("owner/repo@dev")).has_value());

  ASSERT_TRUE(cache.Remove(*by_alias).ok());
  EXPECT_FALSE(fs::exists(dir + "/m-Q4_K_M.gguf"));
  EXPECT_FALSE(fs::exists(dir + "/m-Q4_K_M.gguf.part"));
  EXPECT_TRUE(fs::exists(dir + "/shared.json"));  // still used by Q8_0
  EXPECT_TRUE(fs::exists(dir + "/m-Q8_0.gguf"));
  ASSERT_EQ(cache.List().size(), 1u);

  fs::remove(root_ + "/manifests/owner/repo/main/garbage.json");
  ASSERT_TRUE(cache.Remove(cache.List().at(0)).ok());
  EXPECT_TRUE(cache.List().empty());
  EXPECT_FALSE(fs::exists(dir + "/shared.json"));
  EXPECT_FALSE(fs::exists(root_ + "/models/owner"));  // empty folders go too
  EXPECT_FALSE(fs::exists(root_ + "/manifests/owner"));
}

TEST_F(HubCacheTest, FileRefManifestNamesDoNotCollide) {
  ModelCache cache(root_);
  const Manifest a = Make("owner/repo/a/b.gguf", {"a/b.gguf"});
  const Manifest b = Make("owner/repo/a%2Fb.gguf", {"a%2Fb.gguf"});
  ASSERT_TRUE(cache.Save(a).ok());
  ASSERT_TRUE(cache.Save(b).ok());
  EXPECT_EQ(cache.List().size(), 2u);
}

}  // namespace
}  // namespace autarky::hub
