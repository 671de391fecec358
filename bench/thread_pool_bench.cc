// Thread pool hand-off cost: the latency of an empty parallel call, which every threaded kernel
// pays (hundreds of calls per generated token).
#include <benchmark/benchmark.h>

#include <string>

#include "bench_common.h"
#include "util/thread_pool.h"

namespace autarky::bench {
namespace {

// An empty ParallelFor with one task per thread: the full fork-join round trip (publish the
// job, wake or catch the spinning workers, wait for the last one).
void BM_PoolEmptyParallelFor(benchmark::State& state, int threads) {
  ThreadPool pool(threads);
  for (auto _ : state) {
    pool.ParallelFor(threads, [](int64_t task, int) { benchmark::DoNotOptimize(task); });
  }
}

void BM_PoolEmptyRunOnEachThread(benchmark::State& state, int threads) {
  ThreadPool pool(threads);
  for (auto _ : state) {
    pool.RunOnEachThread([](int t) { benchmark::DoNotOptimize(t); });
  }
}

}  // namespace

void RegisterThreadPoolBenchmarks() {
  for (int threads : {1, 2}) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(
        ("pool/empty_parallel_for" + suffix).c_str(),
        [threads](benchmark::State& s) { BM_PoolEmptyParallelFor(s, threads); })
        ->UseRealTime()
        ->MinTime(0.3)
        ->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark(
        ("pool/empty_run_on_each_thread" + suffix).c_str(),
        [threads](benchmark::State& s) { BM_PoolEmptyRunOnEachThread(s, threads); })
        ->UseRealTime()
        ->MinTime(0.3)
        ->Unit(benchmark::kNanosecond);
  }
}

}  // namespace autarky::bench
