// libFuzzer target: SafetensorsFile::Parse on arbitrary bytes returns an error naming the input,
// or tensors whose every range lies inside the input, matches its dtype and shape, and overlaps
// no other tensor's. Seeds: tests/fuzz/corpus/safetensors_fuzz.
#include <cstdint>
#include <cstdio>
#include <string>

#include "io/safetensors.h"

namespace autarky {
namespace {

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "safetensors_fuzz: property failed: %s\n", #cond); \
      __builtin_trap();                                                       \
    }                                                                         \
  } while (0)

void Exercise(const uint8_t* data, size_t size) {
  Result<SafetensorsFile> parsed = SafetensorsFile::Parse(data, size, "fuzz");
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().message().rfind("fuzz: ", 0) == 0);
    return;
  }
  const SafetensorsFile& file = *parsed;
  FUZZ_CHECK(file.data_offset() >= 8 && file.data_offset() <= size);
  const uint8_t* data_begin = data + file.data_offset();
  const uint8_t* prev_end = data_begin;
  volatile uint64_t sink = 0;
  for (const SafetensorsTensor& t : file.tensors()) {
    FUZZ_CHECK(file.Find(t.name) == &t);
    FUZZ_CHECK(t.data == data_begin + t.begin);
    FUZZ_CHECK(t.data + t.n_bytes <= data + size);
    FUZZ_CHECK(t.n_bytes == static_cast<uint64_t>(t.n_elements) * StDTypeSize(t.dtype));
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    FUZZ_CHECK(n == t.n_elements);
    if (t.n_bytes > 0) {
      FUZZ_CHECK(t.data >= prev_end);  // sorted by offset, no overlap
      prev_end = t.data + t.n_bytes;
      sink = sink + t.data[0] + t.data[t.n_bytes - 1];
    }
  }
  for (const auto& [key, value] : file.metadata()) sink = sink + key.size() + value.size();
}

}  // namespace
}  // namespace autarky

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  autarky::Exercise(data, size);
  return 0;
}
