// CHECK/DCHECK: abort with a message on programmer errors (broken invariants), never on input.
#pragma once


namespace autarky::internal {
// Out of line (check.cc) so that SIMD translation units emit no shared inline copies.
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const char* msg);
}  // namespace autarky::internal

#define CHECK_MSG(cond, msg)                                               \
  do {                                                                     \
    if (__builtin_expect(!(cond), 0))                                      \
      ::autarky::internal::CheckFailed(__FILE__, __LINE__, #cond, (msg));  \
  } while (0)
#define CHECK(cond) CHECK_MSG(cond, nullptr)

#ifdef NDEBUG
#define DCHECK(cond) \
  do {               \
  } while (false && (cond))
#else
#define DCHECK(cond) CHECK(cond)
#endif
