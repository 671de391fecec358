// Shared pieces of the micro-benchmarks: registration entry points and large test buffers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace autarky::bench {

// Each benchmark file registers its benchmarks (called from bench_main.cc before running).
void RegisterMatmulBenchmarks();
void RegisterThreadPoolBenchmarks();
void RegisterMemoryBenchmarks();
void RegisterTokenizerBenchmarks();

// Anonymous memory, 2 MiB aligned, with transparent huge pages requested (fewer TLB misses, as
// a loader that copies or maps weights with huge pages gets) and every page touched so that no
// page fault lands in a timed region.
class BigBuffer {
 public:
  BigBuffer() = default;
  explicit BigBuffer(size_t bytes);
  ~BigBuffer();
  BigBuffer(BigBuffer&& other) noexcept;
  BigBuffer& operator=(BigBuffer&& other) noexcept;
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void Release();
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace autarky::bench
