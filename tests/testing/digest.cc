// Sha256Hex via OpenSSL's EVP interface.
#include "testing/digest.h"

#ifdef AUTARKY_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

namespace autarky::testing {

std::optional<std::string> Sha256Hex(const void* data, size_t size) {
#ifdef AUTARKY_HAVE_OPENSSL
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(data, size, digest, &digest_len, EVP_sha256(), nullptr) != 1) return std::nullopt;
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest_len);
  for (unsigned int i = 0; i < digest_len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
#else
  (void)data;
  (void)size;
  return std::nullopt;
#endif
}

}  // namespace autarky::testing
