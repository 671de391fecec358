// Entry point of autarky_bench: registers every benchmark family, then runs those selected with
// --benchmark_filter (see docs/PERFORMANCE.md).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <utility>

#include "bench_common.h"
#include "util/cpu_features.h"
#include "util/thread_pool.h"

namespace autarky::bench {

BigBuffer::BigBuffer(size_t bytes) : size_(bytes) {
  constexpr size_t kHugePage = size_t{2} << 20;
  mapping_bytes_ = bytes + kHugePage;
  mapping_ =
      mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    data_ = nullptr;
    size_ = 0;
    return;
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(mapping_);
  data_ = reinterpret_cast<uint8_t*>((start + kHugePage - 1) / kHugePage * kHugePage);
  madvise(data_, bytes, MADV_HUGEPAGE);
  std::memset(data_, 0, bytes);
}

BigBuffer::~BigBuffer() { Release(); }

BigBuffer::BigBuffer(BigBuffer&& other) noexcept { *this = std::move(other); }

BigBuffer& BigBuffer::operator=(BigBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void BigBuffer::Release() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

}  // namespace autarky::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("autarky_isa", std::string(autarky::IsaName(autarky::ActiveIsa())));
  benchmark::AddCustomContext("hardware_threads",
                              std::to_string(autarky::ThreadPool::HardwareThreads()));
  autarky::bench::RegisterMemoryBenchmarks();
  autarky::bench::RegisterThreadPoolBenchmarks();
  autarky::bench::RegisterMatmulBenchmarks();
  autarky::bench::RegisterTokenizerBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
