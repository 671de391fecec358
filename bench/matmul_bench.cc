// Matrix-product benchmarks on the FFN shapes of DeepSeek-R1-Distill-Qwen-1.5B (hidden 1536,
// intermediate 8960): decode (one token: GB/s of weights streamed), prompt processing (8, 32 and
// 128 tokens: GFLOP/s; 128 takes the packed-panel path) and the share of a threaded decode
// product spent in synchronisation.
//
// Weights are quantized from random data once per type and shape, then copied until they span
// well over the last-level cache; iterations rotate through the copies so that every product
// streams its weights from DRAM, as decode does.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "util/thread_pool.h"

namespace autarky::bench {
namespace {

using kernels::WeightMatrix;

// Total size of the rotated weight copies: 8x the 32 MiB L3 of the reference machine.
constexpr size_t kRotationBytes = size_t{256} << 20;

constexpr DType kTypes[] = {DType::kQ4_0, DType::kQ4_1,   DType::kQ5_0, DType::kQ5_1,
                            DType::kQ8_0, DType::kIQ4_NL, DType::kQ2_K, DType::kQ3_K,
                            DType::kQ4_K, DType::kQ5_K,   DType::kQ6_K, DType::kIQ4_XS,
                            DType::kF16,  DType::kBF16,   DType::kF32};

struct Shape {
  int64_t n_out;
  int64_t k;
};
// ffn_up/ffn_gate {8960, 1536} and ffn_down {1536, 8960}.
constexpr Shape kShapes[] = {{8960, 1536}, {1536, 8960}};

struct WeightCopies {
  DType type = DType::kF32;
  int64_t n_out = 0, k = 0;
  size_t row_bytes = 0, matrix_bytes = 0;
  int n_copies = 0;
  BigBuffer buffer;

  WeightMatrix Copy(int i) const {
    return WeightMatrix{type, buffer.data() + static_cast<size_t>(i) * matrix_bytes, n_out, k,
                        row_bytes};
  }
};

// The weights of the current (type, shape), built on first use. Benchmarks are registered
// grouped by type and shape, so one set at a time is alive.
const WeightCopies& Weights(DType type, Shape shape) {
  static std::unique_ptr<WeightCopies> cached;
  if (cached && cached->type == type && cached->n_out == shape.n_out && cached->k == shape.k) {
    return *cached;
  }
  cached.reset();  // free the previous set first
  auto w = std::make_unique<WeightCopies>();
  w->type = type;
  w->n_out = shape.n_out;
  w->k = shape.k;
  w->row_bytes = *RowBytes(type, shape.k);
  w->matrix_bytes = w->row_bytes * shape.n_out;
  w->n_copies = static_cast<int>((kRotationBytes + w->matrix_bytes - 1) / w->matrix_bytes);
  w->buffer = BigBuffer(w->matrix_bytes * w->n_copies);

  // Normal weights with row-dependent scale, quantized in parallel (QuantizeRows is
  // thread-safe on disjoint rows).
  // Approximately normal (a centred sum of four uniforms) from a cheap generator: building
  // 14M weights with std::normal_distribution takes longer than the benchmark itself.
  std::vector<float> src(static_cast<size_t>(shape.n_out * shape.k));
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (float& v : src) {
    float sum = 0.0f;
    for (int i = 0; i < 4; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      sum += static_cast<float>(state >> 40) * (1.0f / 16777216.0f);
    }
    v = 0.02f * (sum - 2.0f) * 1.7320508f;  // variance of the sum is 4/12
  }
  ThreadPool pool(ThreadPool::HardwareThreads());
  constexpr int64_t kRowsPerTask = 64;
  pool.ParallelFor((shape.n_out + kRowsPerTask - 1) / kRowsPerTask, [&](int64_t task, int) {
    const int64_t r0 = task * kRowsPerTask;
    const int64_t rows = std::min(kRowsPerTask, shape.n_out - r0);
    kernels::QuantizeRows(type, src.data() + r0 * shape.k, w->buffer.data() + r0 * w->row_bytes,
                          rows, shape.k);
  });
  for (int i = 1; i < w->n_copies; ++i) {
    std::memcpy(w->buffer.data() + i * w->matrix_bytes, w->buffer.data(), w->matrix_bytes);
  }
  cached = std::move(w);
  return *cached;
}

std::vector<float> RandomActivations(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  return x;
}

// y = x · Wᵀ through the library's Matmul (activation quantization included).
void BM_Matmul(benchmark::State& state, DType type, Shape shape, int64_t n_tokens, int threads) {
  const WeightCopies& w = Weights(type, shape);
  if (w.buffer.data() == nullptr) {
    state.SkipWithError("could not map the weight copies");
    return;
  }
  ThreadPool pool(threads);
  kernels::MatmulScratch scratch;
  kernels::MatmulOptions options;
  options.pool = &pool;
  options.scratch = &scratch;
  const std::vector<float> x = RandomActivations(n_tokens * shape.k);
  std::vector<float> y(static_cast<size_t>(n_tokens * shape.n_out));
  int copy = 0;
  for (auto _ : state) {
    kernels::Matmul(w.Copy(copy), x.data(), n_tokens, y.data(), options);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    copy = copy + 1 == w.n_copies ? 0 : copy + 1;
  }
  state.SetBytesProcessed(static_cast<int64_t>(w.matrix_bytes) * state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.matrix_bytes) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(shape.n_out * shape.k * n_tokens) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

// A threaded decode product split as MatmulQuantized splits it, with each thread timing its own
// gemm call: compute_share = mean per-thread compute time / wall time of the parallel call, and
// sync_us = wall time not covered by the slowest thread's compute (hand-off, wake-up, join).
void BM_MatvecSyncShare(benchmark::State& state, DType type, Shape shape, int threads) {
  const WeightCopies& w = Weights(type, shape);
  const kernels::WeightKernels* kern = kernels::FindWeightKernels(type);
  if (w.buffer.data() == nullptr || kern == nullptr) {
    state.SkipWithError("no weights or no kernels");
    return;
  }
  ThreadPool pool(threads);
  kernels::MatmulScratch scratch;
  const std::vector<float> x = RandomActivations(shape.k);
  const kernels::QuantizedActs acts =
      kernels::QuantizeActivations(*kern, x.data(), 1, shape.k, shape.k, nullptr, scratch);
  std::vector<float> y(static_cast<size_t>(shape.n_out));
  struct alignas(64) Busy {
    double seconds = 0;
  };
  std::vector<Busy> busy(threads);
  double wall = 0;
  int copy = 0;
  for (auto _ : state) {
    const WeightMatrix m = w.Copy(copy);
    const auto start = std::chrono::steady_clock::now();
    pool.RunOnEachThread([&](int t) {
      const auto t0 = std::chrono::steady_clock::now();
      const IndexRange r = SplitRange(m.n_out, threads, t, kernels::kMatmulRowTile);
      if (r.size() > 0) {
        kern->gemm(m.k, static_cast<const uint8_t*>(m.data) + r.begin * m.row_stride, m.row_stride,
                   static_cast<int>(r.size()), acts.data, acts.row_stride, 1, y.data() + r.begin,
                   static_cast<size_t>(m.n_out));
      }
      busy[t].seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    wall += elapsed;
    benchmark::DoNotOptimize(y.data());
    copy = copy + 1 == w.n_copies ? 0 : copy + 1;
  }
  double total_busy = 0, max_busy = 0;
  for (const Busy& b : busy) {
    total_busy += b.seconds;
    max_busy = std::max(max_busy, b.seconds);
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["compute_share"] = total_busy / threads / wall;
  state.counters["slowest_share"] = max_busy / wall;
  state.counters["sync_us"] = (wall - max_busy) / iters * 1e6;
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.matrix_bytes) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

std::string ShapeName(Shape s) { return std::to_string(s.n_out) + "x" + std::to_string(s.k); }

}  // namespace

void RegisterMatmulBenchmarks() {
  for (DType type : kTypes) {
    if (kernels::FindWeightKernels(type) == nullptr) continue;  // no kernels registered yet
    const std::string tname(DTypeName(type));
    for (Shape shape : kShapes) {
      for (int64_t tokens : {1, 8, 32, 128}) {
        for (int threads : {1, 2}) {
          const std::string name = std::string(tokens == 1 ? "matvec/" : "gemm/") + tname + "/" +
                                   ShapeName(shape) +
                                   (tokens == 1 ? "" : "/tokens:" + std::to_string(tokens)) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(
              name.c_str(),
              [=](benchmark::State& s) { BM_Matmul(s, type, shape, tokens, threads); })
              ->UseRealTime()
              ->MinTime(0.3)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  if (kernels::FindWeightKernels(DType::kQ4_K) != nullptr) {
    for (int threads : {1, 2}) {
      const Shape shape{1536, 8960};
      benchmark::RegisterBenchmark(
          ("matvec_sync/Q4_K/" + ShapeName(shape) + "/threads:" + std::to_string(threads)).c_str(),
          [=](benchmark::State& s) { BM_MatvecSyncShare(s, DType::kQ4_K, shape, threads); })
          ->UseRealTime()
          ->MinTime(0.3)
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace autarky::bench
