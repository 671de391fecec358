// SHA-256 and git blob SHA-1 over files and memory, streamed through OpenSSL's EVP interface.
#include "hub/digest.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace autarky::hub {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

std::string Hex(const unsigned char* bytes, unsigned int n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

// Digest of `prefix` followed by the file's bytes (or `data` when path is empty).
Result<std::string> Digest(const EVP_MD* md, const std::string& prefix, const std::string& path,
                           const std::string* data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    return ErrorStatus("OpenSSL digest initialization failed");
  }
  EVP_DigestUpdate(ctx.get(), prefix.data(), prefix.size());
  if (data) {
    EVP_DigestUpdate(ctx.get(), data->data(), data->size());
  } else {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) return ErrorStatus("cannot open " + path + ": " + std::strerror(errno));
    std::vector<unsigned char> buffer(1 << 20);
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), f.get())) > 0) {
      EVP_DigestUpdate(ctx.get(), buffer.data(), n);
    }
    if (std::ferror(f.get()))
      return ErrorStatus("cannot read " + path + ": " + std::strerror(errno));
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &out_len);
  return Hex(out, out_len);
}

std::string BlobPrefix(uint64_t size) {
  std::string prefix = "blob " + std::to_string(size);
  prefix.push_back('\0');
  return prefix;
}

}  // namespace

Result<std::string> FileSha256Hex(const std::string& path) {
  return Digest(EVP_sha256(), "", path, nullptr);
}

Result<std::string> FileGitBlobSha1Hex(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return ErrorStatus("cannot open " + path + ": " + std::strerror(errno));
  std::fseek(f.get(), 0, SEEK_END);
  const long size = std::ftell(f.get());
  if (size < 0) return ErrorStatus("cannot size " + path);
  return Digest(EVP_sha1(), BlobPrefix(static_cast<uint64_t>(size)), path, nullptr);
}

std::string Sha256Hex(const std::string& data) {
  return Digest(EVP_sha256(), "", "", &data).value();
}

std::string GitBlobSha1Hex(const std::string& data) {
  return Digest(EVP_sha1(), BlobPrefix(data.size()), "", &data).value();
}

}  // namespace autarky::hub
