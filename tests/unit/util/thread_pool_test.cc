// Tests of the fork-join thread pool: every task runs exactly once, results are visible to the
// caller, thread indices are valid, idle pools sleep and wake, and misuse CHECK-fails.
#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#if defined(__has_feature)
#define AUTARKY_HAS_TSAN_FEATURE __has_feature(thread_sanitizer)
#else
#define AUTARKY_HAS_TSAN_FEATURE 0
#endif

namespace autarky {
namespace {

TEST(SplitRangeTest, PartsCoverTheRangeInOrderAndDifferByAtMostOneGranule) {
  for (int64_t n : {0, 1, 2, 7, 16, 17, 100, 1536, 8960, 8961}) {
    for (int parts = 1; parts <= 7; ++parts) {
      for (int64_t granule : {1, 4, 16}) {
        int64_t expected_begin = 0;
        int64_t min_size = INT64_MAX, max_size = 0;
        for (int p = 0; p < parts; ++p) {
          const IndexRange r = SplitRange(n, parts, p, granule);
          EXPECT_EQ(r.begin, expected_begin) << n << " " << parts << " " << p << " " << granule;
          EXPECT_LE(r.begin, r.end);
          if (r.end < n) {
            EXPECT_EQ(r.end % granule, 0);
          }
          expected_begin = r.end;
          // The last part may hold a partial granule; compare whole-granule parts only.
          if (r.end < n) {
            min_size = std::min(min_size, r.size());
            max_size = std::max(max_size, r.size());
          }
        }
        EXPECT_EQ(expected_begin, n);
        if (max_size > 0) {
          EXPECT_LE(max_size - min_size, granule);
        }
      }
    }
  }
}

TEST(SplitRangeTest, TwoThreadsGetHalfOfTheFfnRows) {
  EXPECT_EQ(SplitRange(8960, 2, 0, 16).size(), 4480);
  EXPECT_EQ(SplitRange(8960, 2, 1, 16).size(), 4480);
  EXPECT_EQ(SplitRange(1536, 2, 0, 16).size(), 768);
}

class ThreadPoolTest : public ::testing::TestWithParam<int> {};

TEST_P(ThreadPoolTest, ManySmallCallsRunEveryTaskOnceAndPublishResults) {
  ThreadPool pool(GetParam());
  std::vector<int64_t> slots(64);
  for (int call = 0; call < 3000; ++call) {
    const int64_t n_tasks = 1 + call % 64;
    // Plain (non-atomic) writes: the pool must order them before the caller's reads below, which
    // ThreadSanitizer checks.
    pool.ParallelFor(n_tasks, [&](int64_t task, int thread_index) {
      EXPECT_GE(thread_index, 0);
      EXPECT_LT(thread_index, pool.num_threads());
      slots[task] += task + call;
    });
    for (int64_t task = 0; task < n_tasks; ++task) {
      ASSERT_EQ(slots[task], task + call) << "call " << call << " task " << task;
      slots[task] = 0;
    }
  }
}

TEST_P(ThreadPoolTest, RunOnEachThreadCallsEveryIndexOnce) {
  ThreadPool pool(GetParam());
  const int n = pool.num_threads();
  for (int call = 0; call < 500; ++call) {
    std::vector<int> calls(n, 0);
    std::vector<std::thread::id> ids(n);
    pool.RunOnEachThread([&](int thread_index) {
      calls[thread_index] += 1;
      ids[thread_index] = std::this_thread::get_id();
    });
    for (int t = 0; t < n; ++t) ASSERT_EQ(calls[t], 1);
    // The caller takes part as index 0 (and may also run parts of late workers).
    ASSERT_EQ(ids[0], std::this_thread::get_id());
  }
}

TEST_P(ThreadPoolTest, WorkersTakePartWhenTheCallerIsSlow) {
  ThreadPool pool(GetParam());
  const int n = pool.num_threads();
  std::vector<std::thread::id> ids(n);
  std::atomic<int> others_done{0};
  // Index 0 (the caller) waits until every other part has run: the workers must claim and run
  // their parts themselves (the caller takes nothing over while it is still in its own part).
  pool.RunOnEachThread([&](int thread_index) {
    ids[thread_index] = std::this_thread::get_id();
    if (thread_index == 0) {
      while (others_done.load() < n - 1) std::this_thread::yield();
    } else {
      others_done.fetch_add(1);
    }
  });
  std::set<std::thread::id> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(n));
}

TEST_P(ThreadPoolTest, StaticPartitionSumsMatchSerialSum) {
  ThreadPool pool(GetParam());
  std::vector<int64_t> data(100003);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<int64_t>(i * i % 1009);
  int64_t serial = 0;
  for (int64_t v : data) serial += v;
  std::vector<int64_t> partial(pool.num_threads(), 0);
  pool.RunOnEachThread([&](int t) {
    const IndexRange r = SplitRange(static_cast<int64_t>(data.size()), pool.num_threads(), t);
    for (int64_t i = r.begin; i < r.end; ++i) partial[t] += data[i];
  });
  int64_t total = 0;
  for (int64_t v : partial) total += v;
  EXPECT_EQ(total, serial);
}

TEST_P(ThreadPoolTest, WakesUpAfterSleepingWhileIdle) {
  ThreadPool pool(GetParam());
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 5; ++call) {
    // Longer than the spin time, so the workers block in the kernel between calls.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    pool.ParallelFor(100, [&](int64_t task, int) { sum.fetch_add(task); });
  }
  EXPECT_EQ(sum.load(), 5 * (99 * 100 / 2));
}

TEST_P(ThreadPoolTest, ZeroAndNegativeTaskCountsDoNothing) {
  ThreadPool pool(GetParam());
  int ran = 0;
  pool.ParallelFor(0, [&](int64_t, int) { ++ran; });
  pool.ParallelFor(-3, [&](int64_t, int) { ++ran; });
  EXPECT_EQ(ran, 0);
}

TEST_P(ThreadPoolTest, DestroyedWhileIdleOrRightAfterConstruction) {
  { ThreadPool pool(GetParam()); }  // workers may not even have started waiting
  {
    ThreadPool pool(GetParam());
    pool.ParallelFor(10, [](int64_t, int) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers asleep
  }
  {
    ThreadPool pool(GetParam());
    pool.ParallelFor(10, [](int64_t, int) {});  // workers still spinning
  }
}

TEST_P(ThreadPoolTest, SeveralPoolsDrivenFromSeveralThreads) {
  std::vector<std::thread> drivers;
  std::atomic<int64_t> total{0};
  for (int d = 0; d < 3; ++d) {
    drivers.emplace_back([&] {
      ThreadPool pool(GetParam());
      for (int call = 0; call < 200; ++call) {
        pool.ParallelFor(8, [&](int64_t task, int) { total.fetch_add(task + 1); });
      }
    });
  }
  for (std::thread& t : drivers) t.join();
  EXPECT_EQ(total.load(), 3 * 200 * 36);
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadPoolTest, ::testing::Values(1, 2, 3, 4, 8));

TEST(ThreadPoolSingleTest, OneThreadRunsInlineAndAllowsNesting) {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  int inner = 0;
  pool.ParallelFor(3, [&](int64_t, int thread_index) {
    EXPECT_EQ(thread_index, 0);
    EXPECT_EQ(std::this_thread::get_id(), caller);
    pool.ParallelFor(2, [&](int64_t, int) { ++inner; });
  });
  EXPECT_EQ(inner, 6);
}

TEST(ThreadPoolDeathTest, NestedCallFromATaskChecksFails) {
#if defined(__SANITIZE_THREAD__) || AUTARKY_HAS_TSAN_FEATURE
  // ThreadSanitizer refuses to start threads in a forked child of a threaded process: re-exec.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
#else
  // Fork without re-exec, which also works under qemu-user (no binfmt for the re-exec).
  GTEST_FLAG_SET(death_test_style, "fast");
#endif
  EXPECT_DEATH(
      {
        ThreadPool pool(2);
        pool.RunOnEachThread([&](int) { pool.ParallelFor(2, [](int64_t, int) {}); });
      },
      "re-entered");
}

TEST(ThreadPoolMiscTest, HardwareThreadsIsPositive) { EXPECT_GE(ThreadPool::HardwareThreads(), 1); }

}  // namespace
}  // namespace autarky
