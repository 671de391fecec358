// Fork-join thread pool for the parallel loops of the inference hot path (hundreds per token).
//
// Persistent workers wait on a generation counter: they spin briefly (a new call usually comes
// within microseconds during a forward pass), then sleep on a futex (std::atomic::wait) so an
// idle pool costs no CPU. The calling thread takes part as thread 0, and when it has finished
// its own share it takes over the share of any worker that has not claimed its own yet (one
// compare-and-swap per worker), so a descheduled or sleeping worker never holds a call up by a
// scheduler time slice. A call performs no heap allocation: the loop body is passed by
// reference through a type-erased trampoline.
//
// Rules for callers:
//  - Tasks must not throw (the project builds without relying on exceptions; a throw in a worker
//    ends the process through std::terminate).
//  - A pool runs one call at a time: calling ParallelFor/RunOnEachThread of a pool from inside
//    one of its own tasks (nested) or from two threads at once is a programmer error and
//    CHECK-fails. (A pool of one thread runs everything inline and allows both.)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace autarky {

// Contiguous range [begin, end) of some index space.
struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

// Part `part` of `n_parts` near-equal contiguous parts of [0, n): the first n % n_parts parts get
// one element more. With `granule` > 1, whole granules are distributed instead (each part
// starts at a multiple of granule; only the last part may end in a partial granule).
IndexRange SplitRange(int64_t n, int n_parts, int part, int64_t granule = 1);

class ThreadPool {
 public:
  // A pool of `n_threads` threads in total, the caller included (n_threads - 1 workers are
  // started). n_threads >= 1.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return n_threads_; }

  // Runs fn(task, thread_index) for every task in [0, n_tasks); threads take tasks one at a
  // time from a shared counter (dynamic scheduling, good for uneven tasks). thread_index is in
  // [0, num_threads()) and identifies the executing thread (for per-thread scratch); the caller
  // is thread 0. Returns when all tasks have finished.
  template <typename Fn>
  void ParallelFor(int64_t n_tasks, const Fn& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
      for (int64_t task = 0; task < n_tasks; ++task) fn(task, 0);
      return;
    }
    Dispatch(JobKind::kDynamic, n_tasks, &CallTask<Fn>, &fn);
  }

  // Runs fn(thread_index) exactly once for each thread_index in [0, num_threads()) (static
  // partitioning: the body picks its share, e.g. with SplitRange). Normally each index runs on
  // its own thread, but the caller also runs the part of any worker that has not started it by
  // the time the caller finished its own (a descheduled worker on a busy machine), so use the
  // index for per-part state, not as a thread identity. Returns when all parts are done.
  template <typename Fn>
  void RunOnEachThread(const Fn& fn) {
    if (n_threads_ == 1) {
      fn(0);
      return;
    }
    Dispatch(JobKind::kEachThread, n_threads_, &CallThread<Fn>, &fn);
  }

  // Hardware threads this process may use (at least 1).
  static int HardwareThreads();

 private:
  enum class JobKind : uint32_t { kDynamic, kEachThread };
  // Type-erased call: (context, first argument, thread index).
  using Trampoline = void (*)(const void* ctx, int64_t arg, int thread_index);

  template <typename Fn>
  static void CallTask(const void* ctx, int64_t task, int thread_index) {
    (*static_cast<const Fn*>(ctx))(task, thread_index);
  }
  template <typename Fn>
  static void CallThread(const void* ctx, int64_t /*unused*/, int thread_index) {
    (*static_cast<const Fn*>(ctx))(thread_index);
  }

  void Dispatch(JobKind kind, int64_t n_tasks, Trampoline call, const void* ctx);
  void RunJob(int thread_index);
  void WorkerLoop(int thread_index);
  void WaitForWorkers();

  // Which generation (job) thread i's part has been claimed for, by worker i or by the caller
  // taking it over: each part runs exactly once. One cache line per thread.
  struct alignas(64) Claim {
    std::atomic<uint32_t> generation{0};
  };

  const int n_threads_;
  std::unique_ptr<Claim[]> claims_;
  std::vector<std::thread> workers_;

  // The current job. Written by the caller only while every worker is idle, published by the
  // release increment of generation_ and read by workers after their acquire load of it.
  JobKind kind_ = JobKind::kDynamic;
  int64_t n_tasks_ = 0;
  Trampoline call_ = nullptr;
  const void* ctx_ = nullptr;

  // Separate cache lines: workers poll generation_ while others hammer the task counter.
  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> sleeping_workers_{0};  // workers blocked (or about to block) in wait()
  alignas(64) std::atomic<int64_t> next_task_{0};
  alignas(64) std::atomic<uint32_t> pending_workers_{0};  // workers not yet done with the job
  std::atomic<uint32_t> caller_sleeping_{0};
  alignas(64) std::atomic<bool> busy_{false};  // a call is in progress (re-entry detection)
  std::atomic<bool> stop_{false};              // set by the destructor
};

}  // namespace autarky
