// Digests checked against published vectors (FIPS 180-2, git hash-object) and origin matching
// for the token (hub/digest.h, hub/http.h).
#include "hub/digest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "hub/http.h"

namespace autarky::hub {
namespace {

TEST(HubDigest, KnownVectors) {
  // FIPS 180-2 appendix B.1 and the empty message.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // `git hash-object` of an empty file and of "hello world\n".
  EXPECT_EQ(GitBlobSha1Hex(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  EXPECT_EQ(GitBlobSha1Hex("hello world\n"), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad");
}

TEST(HubDigest, FilesMatchMemoryAndMissingFilesFail) {
  char path[] = "/tmp/autarky_hub_digest_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  // Over 1 MiB, so that the streamed digest crosses its read buffer.
  std::string data(3 << 19, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 9));
  std::ofstream(path, std::ios::binary) << data;
  auto sha = FileSha256Hex(path);
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(*sha, Sha256Hex(data));
  auto sha1 = FileGitBlobSha1Hex(path);
  ASSERT_TRUE(sha1.ok());
  EXPECT_EQ(*sha1, GitBlobSha1Hex(data));
  std::remove(path);
  EXPECT_FALSE(FileSha256Hex(path).ok());
}

TEST(HubHttp, TokenGoesOnlyToTheEndpointOrigin) {
  const HttpClient client("https://huggingface.co/", "hf_secret");
  EXPECT_EQ(client.endpoint(), "https://huggingface.co");
  EXPECT_TRUE(client.SameOrigin("https://huggingface.co/api/models/a/b"));
  EXPECT_TRUE(client.SameOrigin("https://HuggingFace.co:443/a/b/resolve/main/x"));
  EXPECT_FALSE(client.SameOrigin("https://cdn-lfs.huggingface.co/repos/x"));
  EXPECT_FALSE(client.SameOrigin("http://huggingface.co/a"));  // scheme change
  EXPECT_FALSE(client.SameOrigin("https://huggingface.co:8443/a"));
  EXPECT_FALSE(client.SameOrigin("https://huggingface.co.evil.example/a"));
  EXPECT_FALSE(client.SameOrigin("https://evil.example/@huggingface.co/a"));
  EXPECT_EQ(OriginOf("http://127.0.0.1:8080/x?y"), "http://127.0.0.1:8080");
  EXPECT_EQ(OriginOf("http://user@localhost/x"), "http://localhost:80");
}

}  // namespace
}  // namespace autarky::hub
