// Failure path of CHECK: print where and why, then abort.
#include "util/check.h"

#include <cstdio>
#include <cstdlib>

namespace autarky::internal {
void CheckFailed(const char* file, int line, const char* expr, const char* msg) {
  std::fprintf(stderr, "%s:%d: CHECK failed: %s %s\n", file, line, expr, msg ? msg : "");
  std::abort();
}
}  // namespace autarky::internal
