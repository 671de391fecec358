// SHA-256 for comparing data with the digests in ../shared manifests (OpenSSL when available).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace autarky::testing {

// Lower-case hex SHA-256 of the bytes; nullopt when the build has no OpenSSL (cross builds).
std::optional<std::string> Sha256Hex(const void* data, size_t size);

}  // namespace autarky::testing

// Skips the current test when SHA-256 is unavailable in this build.
#define SKIP_WITHOUT_SHA256()                                                       \
  do {                                                                              \
    if (!::autarky::testing::Sha256Hex("", 0)) {                                    \
      GTEST_SKIP() << "built without OpenSSL: SHA-256 golden comparisons skipped"; \
    }                                                                               \
  } while (0)
