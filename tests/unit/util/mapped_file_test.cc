// MappedFile: both load modes give the file's exact bytes; errors name the path.
#include "util/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace autarky {
namespace {

std::string WriteTempFile(const std::vector<uint8_t>& bytes) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("autarky-mapped-" + std::to_string(::getpid()) + "-" +
                     std::to_string(bytes.size()));
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

TEST(MappedFileTest, MapAndCopyGiveTheSameBytes) {
  // Sizes around the 2 MiB huge page the copy rounds its allocation to.
  for (size_t size : {size_t{1}, size_t{4095}, (size_t{2} << 20) - 1, (size_t{2} << 20) + 7}) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
    const std::string path = WriteTempFile(bytes);
    for (FileLoad mode : {FileLoad::kMap, FileLoad::kStream, FileLoad::kCopy}) {
      auto file = MappedFile::Open(path, mode);
      ASSERT_TRUE(file.ok()) << file.status().message();
      ASSERT_EQ(file->size(), size);
      EXPECT_EQ(std::memcmp(file->data(), bytes.data(), size), 0);
      MappedFile moved = std::move(*file);  // the mapping moves with the object
      EXPECT_EQ(moved.size(), size);
      EXPECT_EQ(moved.data()[size - 1], bytes[size - 1]);
    }
    std::filesystem::remove(path);
  }
}

// Files of 64 MiB and more that the page cache holds in small pages are dropped from the cache
// once and mapped again (for huge pages): the bytes must not change, whatever the kernel does.
TEST(MappedFileTest, LargeMappedFileKeepsItsBytesAcrossTheHugePageRemap) {
  constexpr size_t kSize = (size_t{72} << 20) + 12345;
  std::vector<uint8_t> bytes(kSize);
  uint64_t state = 0x2545f4914f6cdd1dull;
  for (uint8_t& b : bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    b = static_cast<uint8_t>(state >> 56);
  }
  const std::string path = WriteTempFile(bytes);  // written in the stream's small pieces
  for (int open = 0; open < 2; ++open) {  // the second finds what the first left in the cache
    auto file = MappedFile::Open(path, FileLoad::kStream);
    ASSERT_TRUE(file.ok()) << file.status().message();
    ASSERT_EQ(file->size(), kSize);
    // A huge page can only map where the address and the file offset agree modulo 2 MiB.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(file->data()) % (size_t{2} << 20), 0u);
    EXPECT_EQ(std::memcmp(file->data(), bytes.data(), kSize), 0) << "open " << open;
    const size_t huge = HugePageBytesIn(file->data(), file->size());
    std::printf("open %d: %zu of %zu bytes mapped with huge pages\n", open, huge, kSize);
    // Where the kernel gives huge pages at all, it gives them for the whole file (re-cached in
    // 2 MiB folios by the first open): all but the partial last span.
    if (huge > 0) {
      EXPECT_GE(huge, kSize / (size_t{2} << 20) * (size_t{2} << 20)) << "open " << open;
    }
  }
  std::filesystem::remove(path);
}

TEST(MappedFileTest, EmptyAndMissingFiles) {
  const std::string empty = WriteTempFile({});
  for (FileLoad mode : {FileLoad::kMap, FileLoad::kStream, FileLoad::kCopy}) {
    auto file = MappedFile::Open(empty, mode);
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(file->size(), 0u);
    auto missing = MappedFile::Open(empty + ".missing", mode);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find(".missing"), std::string::npos);
  }
  std::filesystem::remove(empty);
  auto dir = MappedFile::Open(std::filesystem::temp_directory_path().string(), FileLoad::kCopy);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace autarky
