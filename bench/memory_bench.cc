// Memory read bandwidth of this machine on 1 and 2 threads: the bound that decode (a stream over
// all weights per token) can at best reach.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "bench_common.h"
#include "util/thread_pool.h"

namespace autarky::bench {
namespace {

// Far larger than any last-level cache, so every read comes from DRAM.
constexpr size_t kBufferBytes = size_t{1} << 30;
// Bytes per loop step of the readers: four independent 64-byte accumulators.
constexpr size_t kStep = 256;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t ReadAvx512(const uint8_t* p, size_t bytes) {
  typedef long long V __attribute__((vector_size(64)));
  V a0 = {}, a1 = {}, a2 = {}, a3 = {};
  for (size_t i = 0; i < bytes; i += kStep) {
    a0 ^= *reinterpret_cast<const V*>(p + i);
    a1 ^= *reinterpret_cast<const V*>(p + i + 64);
    a2 ^= *reinterpret_cast<const V*>(p + i + 128);
    a3 ^= *reinterpret_cast<const V*>(p + i + 192);
  }
  const V a = a0 ^ a1 ^ a2 ^ a3;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r ^= static_cast<uint64_t>(a[i]);
  return r;
}

__attribute__((target("avx2"))) uint64_t ReadAvx2(const uint8_t* p, size_t bytes) {
  typedef long long V __attribute__((vector_size(32)));
  V a0 = {}, a1 = {}, a2 = {}, a3 = {};
  for (size_t i = 0; i < bytes; i += kStep / 2) {
    a0 ^= *reinterpret_cast<const V*>(p + i);
    a1 ^= *reinterpret_cast<const V*>(p + i + 32);
    a2 ^= *reinterpret_cast<const V*>(p + i + 64);
    a3 ^= *reinterpret_cast<const V*>(p + i + 96);
  }
  const V a = a0 ^ a1 ^ a2 ^ a3;
  uint64_t r = 0;
  for (int i = 0; i < 4; ++i) r ^= static_cast<uint64_t>(a[i]);
  return r;
}
#endif

// Baseline 16-byte vectors (SSE2 / NEON).
uint64_t ReadGeneric(const uint8_t* p, size_t bytes) {
  typedef long long V __attribute__((vector_size(16)));
  V a0 = {}, a1 = {}, a2 = {}, a3 = {};
  for (size_t i = 0; i < bytes; i += 64) {
    a0 ^= *reinterpret_cast<const V*>(p + i);
    a1 ^= *reinterpret_cast<const V*>(p + i + 16);
    a2 ^= *reinterpret_cast<const V*>(p + i + 32);
    a3 ^= *reinterpret_cast<const V*>(p + i + 48);
  }
  const V a = a0 ^ a1 ^ a2 ^ a3;
  return static_cast<uint64_t>(a[0] ^ a[1]);
}

using ReadFn = uint64_t (*)(const uint8_t*, size_t);

ReadFn WidestReader(std::string* name) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) {
    *name = "avx512";
    return ReadAvx512;
  }
  if (__builtin_cpu_supports("avx2")) {
    *name = "avx2";
    return ReadAvx2;
  }
#endif
  *name = "128-bit";
  return ReadGeneric;
}

const BigBuffer& Buffer() {
  static const BigBuffer buffer(kBufferBytes);
  return buffer;
}

void BM_MemoryRead(benchmark::State& state, int threads) {
  const BigBuffer& buffer = Buffer();
  if (buffer.data() == nullptr) {
    state.SkipWithError("could not map the 1 GiB buffer");
    return;
  }
  std::string reader_name;
  const ReadFn read = WidestReader(&reader_name);
  ThreadPool pool(threads);
  // Each thread reads one contiguous part, in whole kStep units.
  const int64_t steps = static_cast<int64_t>(buffer.size() / kStep);
  struct alignas(64) Sink {
    uint64_t value = 0;
  };
  Sink sinks[16];  // one per thread (registered counts are at most 2)
  for (auto _ : state) {
    pool.RunOnEachThread([&](int t) {
      const IndexRange r = SplitRange(steps, threads, t);
      sinks[t].value ^=
          read(buffer.data() + r.begin * kStep, static_cast<size_t>(r.size()) * kStep);
    });
  }
  for (const Sink& s : sinks) benchmark::DoNotOptimize(s.value);
  state.SetBytesProcessed(static_cast<int64_t>(buffer.size()) * state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(buffer.size()) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(reader_name + " loads, 1 GiB");
}

}  // namespace

void RegisterMemoryBenchmarks() {
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("membw/read/threads:" + std::to_string(threads)).c_str(),
                                 [threads](benchmark::State& s) { BM_MemoryRead(s, threads); })
        ->UseRealTime()
        ->MinTime(1.0)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace autarky::bench
