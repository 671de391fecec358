// Digests that the hub publishes for its files: SHA-256 of LFS files and the git blob SHA-1 of
// small files (OpenSSL EVP).
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace autarky::hub {

// Lower-case hex SHA-256 of the file's bytes.
Result<std::string> FileSha256Hex(const std::string& path);
// Lower-case hex SHA-1 of "blob {size}\0" + the file's bytes (git's object id).
Result<std::string> FileGitBlobSha1Hex(const std::string& path);
// The same over memory (tests and small files).
std::string Sha256Hex(const std::string& data);
std::string GitBlobSha1Hex(const std::string& data);

}  // namespace autarky::hub
