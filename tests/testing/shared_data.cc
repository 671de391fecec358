// SharedDir(): where ../shared lives for the tests.
#include "testing/shared_data.h"

#include <cstdlib>

namespace autarky::testing {

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("AUTARKY_SHARED_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return AUTARKY_SHARED_DIR;
}

bool HaveShared(const std::string& relative) {
  std::error_code ec;
  return std::filesystem::exists(SharedDir() / relative, ec);
}

}  // namespace autarky::testing
