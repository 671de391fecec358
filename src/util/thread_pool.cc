// Fork-join thread pool: generation-counter hand-off, bounded spinning, futex sleep.
#include "util/thread_pool.h"

#include <sched.h>

#include <chrono>

#include "util/check.h"

namespace autarky {
namespace {

// How long a waiting thread polls before it sleeps. A forward pass issues a parallel call every
// few microseconds, and the threads of one call may finish tens of microseconds apart when they
// share memory bandwidth; a worker that has fallen asleep costs the next call a futex wake-up
// (measured 20-70 us on a 2-vCPU VM), so the spin must outlast both. A pool idle for longer
// sleeps in the kernel and costs nothing.
constexpr std::chrono::microseconds kSpinTime{200};
// Polls between two clock reads while spinning (a clock read costs about as much as 20 polls).
constexpr int kPollsPerClockRead = 64;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Polls `done` until it returns true (then returns true) or kSpinTime passes (false).
template <typename Pred>
bool SpinUntil(const Pred& done) {
  if (done()) return true;
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < kPollsPerClockRead; ++i) {
      CpuRelax();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

}  // namespace

IndexRange SplitRange(int64_t n, int n_parts, int part, int64_t granule) {
  CHECK(n >= 0 && n_parts >= 1 && part >= 0 && part < n_parts && granule >= 1);
  const int64_t n_granules = (n + granule - 1) / granule;
  const int64_t base = n_granules / n_parts;
  const int64_t extra = n_granules % n_parts;
  const int64_t first = part * base + (part < extra ? part : extra);
  const int64_t count = base + (part < extra ? 1 : 0);
  IndexRange range;
  range.begin = first * granule;
  range.end = (first + count) * granule;
  if (range.begin > n) range.begin = n;
  if (range.end > n) range.end = n;
  return range;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
  CHECK_MSG(n_threads >= 1, "a thread pool needs at least one thread");
  claims_ = std::make_unique<Claim[]>(n_threads);
  workers_.reserve(n_threads - 1);
  for (int i = 1; i < n_threads; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  if (workers_.empty()) return;
  CHECK_MSG(!busy_.load(std::memory_order_acquire), "thread pool destroyed during a call");
  stop_.store(true, std::memory_order_relaxed);  // published by the increment below
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

int ThreadPool::HardwareThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

void ThreadPool::Dispatch(JobKind kind, int64_t n_tasks, Trampoline call, const void* ctx) {
  CHECK_MSG(!busy_.exchange(true, std::memory_order_acquire),
            "ThreadPool re-entered: a nested call from one of its tasks, or calls from two "
            "threads at once");
  // Every worker that took part in the previous job finished it before the previous call
  // returned, and the others never read these fields, so none reads them now; the seq_cst
  // increment below publishes them (it is also a release).
  kind_ = kind;
  n_tasks_ = n_tasks;
  call_ = call;
  ctx_ = ctx;
  next_task_.store(0, std::memory_order_relaxed);
  pending_workers_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  const uint32_t generation = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
  // Pairs with the worker's seq_cst increment of sleeping_workers_ followed by its re-read of
  // generation_: either the worker sees the new generation, or we see it sleeping and wake it.
  if (sleeping_workers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();

  RunJob(0);
  // Take over the part of every worker that has not claimed it yet (descheduled, or still
  // waking up): waiting for it could cost a scheduler time slice, running it here costs one
  // part. In a dynamic job no task is left by now, so there is nothing to run.
  uint32_t taken_over = 0;
  for (int i = 1; i < n_threads_; ++i) {
    std::atomic<uint32_t>& claim = claims_[i].generation;
    uint32_t expected = generation - 1;
    if (claim.load(std::memory_order_relaxed) == expected &&
        claim.compare_exchange_strong(expected, generation, std::memory_order_acq_rel)) {
      if (kind_ == JobKind::kEachThread) call_(ctx_, 0, i);
      ++taken_over;
    }
  }
  if (taken_over > 0) pending_workers_.fetch_sub(taken_over, std::memory_order_seq_cst);
  WaitForWorkers();
  busy_.store(false, std::memory_order_release);
}

void ThreadPool::RunJob(int thread_index) {
  if (kind_ == JobKind::kEachThread) {
    call_(ctx_, 0, thread_index);
    return;
  }
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) return;
    call_(ctx_, task, thread_index);
  }
}

void ThreadPool::WaitForWorkers() {
  if (SpinUntil([this] { return pending_workers_.load(std::memory_order_acquire) == 0; })) return;
  // Same pairing as in Dispatch, with the roles swapped: the last worker to finish either sees
  // caller_sleeping_ set and wakes us, or we see its decrement before blocking.
  caller_sleeping_.store(1, std::memory_order_seq_cst);
  for (;;) {
    const uint32_t pending = pending_workers_.load(std::memory_order_seq_cst);
    if (pending == 0) break;
    pending_workers_.wait(pending, std::memory_order_seq_cst);
  }
  caller_sleeping_.store(0, std::memory_order_relaxed);
}

void ThreadPool::WorkerLoop(int thread_index) {
  uint32_t seen = 0;  // the generation at construction
  for (;;) {
    uint32_t generation = seen;
    const auto changed = [&] {
      generation = generation_.load(std::memory_order_acquire);
      return generation != seen;
    };
    if (!SpinUntil(changed)) {
      sleeping_workers_.fetch_add(1, std::memory_order_seq_cst);
      for (;;) {
        generation = generation_.load(std::memory_order_seq_cst);
        if (generation != seen) break;
        generation_.wait(seen, std::memory_order_seq_cst);
      }
      sleeping_workers_.fetch_sub(1, std::memory_order_relaxed);
    }
    seen = generation;
    if (stop_.load(std::memory_order_relaxed)) return;
    // Claim this generation's part; if the caller took it over, skip the job without reading
    // its fields (the caller may already be writing the next one).
    uint32_t expected = generation - 1;
    if (!claims_[thread_index].generation.compare_exchange_strong(expected, generation,
                                                                  std::memory_order_acq_rel)) {
      continue;
    }
    RunJob(thread_index);
    if (pending_workers_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        caller_sleeping_.load(std::memory_order_seq_cst) != 0) {
      pending_workers_.notify_one();
    }
  }
}

}  // namespace autarky
