// Threaded matrix products: activation quantization, row partitioning and cache blocking around
// the per-ISA gemm kernels.
#include "kernels/matmul.h"

#include <new>
#include <optional>

#include "kernels/kernel_table.h"
#include "util/check.h"
#include "util/thread_pool.h"

namespace autarky::kernels {
namespace {

constexpr size_t kAlignment = 64;

// Multiply-adds below which a product runs on the calling thread alone: waking the workers
// costs about a microsecond, as much as ~50k multiply-adds of a SIMD kernel.
constexpr int64_t kMinMacsToSplit = int64_t{1} << 16;
// Activation elements below which quantization runs on the calling thread alone.
constexpr int64_t kMinElemsToSplitQuantize = int64_t{1} << 14;

// Cache blocking for prompt processing (more tokens than one column tile): a panel of
// activation rows stays in L2 while a block of weight rows, small enough to stay in L1/L2, is
// multiplied with every column tile of the panel.
constexpr size_t kPanelBytes = size_t{256} << 10;
constexpr size_t kRowBlockBytes = size_t{48} << 10;

// How far ahead of the rows being multiplied the decode path prefetches: more than the bytes
// that arrive during one DRAM latency at full bandwidth (32-128 KiB measured alike; 128 KiB
// was best for Q8_0).
constexpr size_t kDecodePrefetchBytes = size_t{128} << 10;

// Prompt processing over packed panels (PackedGemmKernels), from this many tokens on: below,
// packing costs more than the panel's faster kernel saves.
constexpr int64_t kPackedMinTokens = 16;
// Activation columns that share the packing of each panel, and the bytes of their k-range
// that stay in L2 while the thread's panels stream past.
constexpr int64_t kPackedPanelColumns = 256;
constexpr size_t kPackedActivationBytes = size_t{512} << 10;
// Columns multiplied between two shares of the prefetch of the next panel.
constexpr int kPackedPrefetchColumns = 16;

size_t RoundUp(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

MatmulScratch& ThreadScratch() {
  thread_local MatmulScratch scratch;
  return scratch;
}

// y rows [rows.begin, rows.end) for all tokens.
void GemmRows(const WeightMatrix& w, const QuantizedActs& acts, float* y, size_t y_stride,
              const WeightKernels& kernels, IndexRange rows) {
  if (rows.size() <= 0) return;
  const auto* w_bytes = static_cast<const uint8_t*>(w.data);
  const auto* a_bytes = static_cast<const uint8_t*>(acts.data);
  if (acts.n_tokens <= kMatmulColTile) {
    // Decode and small batches are bound by reading the weights from DRAM, which only runs at
    // full speed as one sequential stream per thread: kernels that interleave several rows
    // (shorter than a few KiB) defeat the hardware prefetcher, measured at a third of the
    // bandwidth. With one token every kernel takes its rows one after the other (gemm with one
    // column), which the hardware prefetcher follows; groups of rows per call let a kernel
    // prepare the column once for them. With a few tokens the kernels' row tiles interleave
    // rows, and a software prefetch runs kDecodePrefetchBytes ahead of them, into L2. (For one
    // token that prefetch, issued a group of rows at a time, measured 10-40% slower.)
    const bool prefetch = acts.n_tokens > 1;
    // One token: all the rows in one call, so that a kernel prepares the column once (per
    // group of 16 rows that preparation took 2% of decode).
    const int64_t group = prefetch ? kMatmulRowTile : rows.size();
    // Byte offsets (not pointers, which must not run past the matrix) into w_bytes.
    const size_t end = static_cast<size_t>(rows.end) * w.row_stride;
    size_t prefetched = static_cast<size_t>(rows.begin) * w.row_stride;
    for (int64_t r = rows.begin; r < rows.end; r += group) {
      const int64_t nr = r + group < rows.end ? group : rows.end - r;
      if (prefetch) {
        size_t ahead = static_cast<size_t>(r + nr) * w.row_stride + kDecodePrefetchBytes;
        if (ahead > end) ahead = end;
        for (; prefetched < ahead; prefetched += 64) __builtin_prefetch(w_bytes + prefetched, 0, 2);
      }
      kernels.gemm(w.k, w_bytes + r * w.row_stride, w.row_stride, static_cast<int>(nr), a_bytes,
                   acts.row_stride, static_cast<int>(acts.n_tokens), y + r, y_stride);
    }
    return;
  }
  int64_t panel_tokens = static_cast<int64_t>(kPanelBytes / acts.row_stride);
  panel_tokens = panel_tokens / kMatmulColTile * kMatmulColTile;
  if (panel_tokens < kMatmulColTile) panel_tokens = kMatmulColTile;
  int64_t block_rows = static_cast<int64_t>(kRowBlockBytes / w.row_stride);
  block_rows = block_rows / kMatmulRowTile * kMatmulRowTile;
  if (block_rows < kMatmulRowTile) block_rows = kMatmulRowTile;

  for (int64_t t0 = 0; t0 < acts.n_tokens; t0 += panel_tokens) {
    const int64_t t1 = t0 + panel_tokens < acts.n_tokens ? t0 + panel_tokens : acts.n_tokens;
    for (int64_t r = rows.begin; r < rows.end; r += block_rows) {
      const int64_t nr = r + block_rows < rows.end ? block_rows : rows.end - r;
      for (int64_t c = t0; c < t1; c += kMatmulColTile) {
        const int64_t nc = c + kMatmulColTile < t1 ? kMatmulColTile : t1 - c;
        kernels.gemm(w.k, w_bytes + r * w.row_stride, w.row_stride, static_cast<int>(nr),
                     a_bytes + c * acts.row_stride, acts.row_stride, static_cast<int>(nc),
                     y + c * y_stride + r, y_stride);
      }
    }
  }
}

// Software prefetch (into L2) of `n_rows` byte ranges `bytes` long, `stride` apart, issued in
// shares: Issue(i, n) brings the total issued to i / n of the lines.
class RowPrefetch {
 public:
  RowPrefetch() = default;
  RowPrefetch(const uint8_t* first, size_t stride, int64_t n_rows, size_t bytes)
      : first_(first),
        stride_(stride),
        row_lines_((bytes + 63) / 64),
        total_(static_cast<size_t>(n_rows) * row_lines_) {}

  void Issue(int i, int n) {
    const size_t until = total_ * i / n;
    for (; issued_ < until; ++issued_) {
      __builtin_prefetch(first_ + row_ * stride_ + line_ * 64, 0, 2);
      if (++line_ == row_lines_) {
        line_ = 0;
        ++row_;
      }
    }
  }

 private:
  const uint8_t* first_ = nullptr;
  size_t stride_ = 0, row_lines_ = 0, total_ = 0, issued_ = 0;
  size_t row_ = 0, line_ = 0;  // the next line to fetch
};

// The prefetch of the panel of rows [r, min(r + n_rows, end)), bytes [offset, offset + bytes)
// of each; nothing when r >= end.
RowPrefetch PanelPrefetch(const WeightMatrix& w, size_t offset, size_t bytes, int64_t r,
                          int64_t end, int64_t n_rows) {
  if (r >= end) return RowPrefetch();
  const int64_t n = r + n_rows <= end ? n_rows : end - r;
  return RowPrefetch(static_cast<const uint8_t*>(w.data) + r * w.row_stride + offset, w.row_stride,
                     n, bytes);
}

// y rows [rows.begin, rows.end) for all tokens through packed panels: for each group of
// kPackedPanelColumns columns and each k-range whose activations fit kPackedActivationBytes,
// every panel of packed.rows rows is packed once and multiplied with all those columns; the
// k-ranges carry their sums over, so the split never changes a result.
void PackedRows(const WeightMatrix& w, const QuantizedActs& acts, float* y, size_t y_stride,
                const PackedGemmKernels& packed, IndexRange rows) {
  if (rows.size() <= 0) return;
  thread_local MatmulScratch panel_scratch;
  const int64_t nb = w.k / packed.block_elems;
  const size_t w_block = *RowBytes(w.type, packed.block_elems);
  const size_t a_block = *RowBytes(acts.type, packed.block_elems);
  const auto* w_bytes = static_cast<const uint8_t*>(w.data);
  const auto* a_bytes = static_cast<const uint8_t*>(acts.data);
  const int64_t panel_cols =
      acts.n_tokens < kPackedPanelColumns ? acts.n_tokens : kPackedPanelColumns;
  int64_t chunk = static_cast<int64_t>(kPackedActivationBytes / (panel_cols * a_block));
  chunk = chunk / packed.range_blocks * packed.range_blocks;
  if (chunk < packed.range_blocks) chunk = packed.range_blocks;
  if (chunk > nb) chunk = nb;
  // One buffer: the panel, then the activation extras of the column group's k-range.
  const size_t panel_bytes = RoundUp(packed.panel_bytes(chunk), kAlignment);
  const size_t extra_stride = RoundUp(static_cast<size_t>(chunk) * packed.act_extra_bytes, 64);
  auto* buffer =
      static_cast<uint8_t*>(panel_scratch.Reserve(panel_bytes + extra_stride * panel_cols));
  void* panel = buffer;
  uint8_t* extra = packed.prepare_acts != nullptr ? buffer + panel_bytes : nullptr;
  for (int64_t c0 = 0; c0 < acts.n_tokens; c0 += panel_cols) {
    const int nc =
        static_cast<int>(c0 + panel_cols <= acts.n_tokens ? panel_cols : acts.n_tokens - c0);
    for (int64_t b0 = 0; b0 < nb; b0 += chunk) {
      const int64_t len = b0 + chunk <= nb ? chunk : nb - b0;
      if (extra != nullptr) {
        for (int c = 0; c < nc; ++c) {
          packed.prepare_acts(a_bytes + (c0 + c) * acts.row_stride + b0 * a_block, len,
                              extra + c * extra_stride);
        }
      }
      for (int64_t r = rows.begin; r < rows.end; r += packed.rows) {
        const int nr = static_cast<int>(r + packed.rows <= rows.end ? packed.rows : rows.end - r);
        packed.pack(w_bytes + r * w.row_stride + b0 * w_block, w.row_stride, nr, len, panel);
        // Meanwhile the panel after next has its weights fetched into L2 (its rows lie far
        // apart, which the hardware prefetcher does not follow; one panel ahead measured too
        // short a lead for DRAM), a share before each group of columns. The first call also
        // fetches the second panel.
        if (r == rows.begin) {
          PanelPrefetch(w, b0 * w_block, len * w_block, r + packed.rows, rows.end, packed.rows)
              .Issue(1, 1);
        }
        RowPrefetch next = PanelPrefetch(w, b0 * w_block, len * w_block, r + 2 * packed.rows,
                                         rows.end, packed.rows);
        const int groups = (nc + kPackedPrefetchColumns - 1) / kPackedPrefetchColumns;
        for (int g = 0; g < groups; ++g) {
          next.Issue(g + 1, groups);  // ahead of the gemm, so the last share has time to land
          const int gc = g * kPackedPrefetchColumns;
          const int gn = nc - gc < kPackedPrefetchColumns ? nc - gc : kPackedPrefetchColumns;
          packed.gemm(len, panel, a_bytes + (c0 + gc) * acts.row_stride + b0 * a_block,
                      acts.row_stride, extra != nullptr ? extra + gc * extra_stride : nullptr,
                      extra_stride, gn, y + (c0 + gc) * y_stride + r, y_stride, nr, b0 > 0);
        }
      }
    }
  }
}

// The rows of one thread, by the path that suits the batch.
void ProductRows(const WeightMatrix& w, const QuantizedActs& acts, float* y, size_t y_stride,
                 const WeightKernels& kernels, IndexRange rows) {
  if (kernels.packed != nullptr && acts.n_tokens >= kPackedMinTokens) {
    PackedRows(w, acts, y, y_stride, *kernels.packed, rows);
  } else {
    GemmRows(w, acts, y, y_stride, kernels, rows);
  }
}

}  // namespace

void MatmulScratch::Free::operator()(void* p) const {
  ::operator delete (p, std::align_val_t{kAlignment});
}

void* MatmulScratch::Reserve(size_t bytes) {
  if (bytes > capacity_) {
    // Grow geometrically so that a sequence of growing requests allocates O(log n) times.
    size_t grown = capacity_ + capacity_ / 2;
    if (grown < bytes) grown = bytes;
    grown = RoundUp(grown, 4096);
    data_.reset();  // release first: contents need not survive
    data_.reset(::operator new (grown, std::align_val_t{kAlignment}));
    capacity_ = grown;
  }
  return data_.get();
}

QuantizedActs QuantizeActivations(const WeightKernels& kernels, const float* x, int64_t n_tokens,
                                  int64_t k, size_t x_stride, ThreadPool* pool,
                                  MatmulScratch& scratch) {
  CHECK(n_tokens >= 0 && k >= 0 && x_stride >= static_cast<size_t>(k));
  QuantizedActs acts;
  acts.type = kernels.act_type;
  acts.n_tokens = n_tokens;
  acts.k = k;
  if (kernels.act_type == DType::kF32) {
    acts.data = x;
    acts.row_stride = x_stride * sizeof(float);
    return acts;
  }
  const std::optional<size_t> row_bytes = RowBytes(kernels.act_type, k);
  CHECK_MSG(row_bytes.has_value(), "k is not a whole number of activation blocks");
  // Cache-line aligned rows: threads quantizing neighbouring rows never share a line.
  acts.row_stride = RoundUp(*row_bytes, kAlignment);
  auto* out = static_cast<uint8_t*>(scratch.Reserve(acts.row_stride * n_tokens));
  acts.data = out;
  const size_t row_stride = acts.row_stride;
  const auto quantize = [&](IndexRange tokens) {
    for (int64_t t = tokens.begin; t < tokens.end; ++t) {
      kernels.quantize_act(x + t * x_stride, out + t * row_stride, k);
    }
  };
  if (pool == nullptr || pool->num_threads() == 1 || n_tokens < 2 ||
      n_tokens * k < kMinElemsToSplitQuantize) {
    quantize(IndexRange{0, n_tokens});
  } else {
    const int n_threads = pool->num_threads();
    pool->RunOnEachThread([&](int t) { quantize(SplitRange(n_tokens, n_threads, t)); });
  }
  return acts;
}

void MatmulQuantized(const WeightMatrix& w, const QuantizedActs& acts, float* y, size_t y_stride,
                     const WeightKernels& kernels, ThreadPool* pool) {
  CHECK_MSG(acts.type == kernels.act_type && acts.k == w.k,
            "activations were quantized for other kernels or another k");
  CHECK(y_stride >= static_cast<size_t>(w.n_out));
  if (w.n_out <= 0 || acts.n_tokens <= 0) return;
  const int64_t macs = w.n_out * w.k * acts.n_tokens;
  if (pool == nullptr || pool->num_threads() == 1 || w.n_out < 2 * kMatmulRowTile ||
      macs < kMinMacsToSplit) {
    ProductRows(w, acts, y, y_stride, kernels, IndexRange{0, w.n_out});
    return;
  }
  // Static, balanced split of the rows: each thread streams one contiguous part of the matrix,
  // which keeps the hardware prefetchers on one stream per core.
  const int n_threads = pool->num_threads();
  pool->RunOnEachThread([&](int t) {
    ProductRows(w, acts, y, y_stride, kernels, SplitRange(w.n_out, n_threads, t, kMatmulRowTile));
  });
}

void MatmulQuantizedRows(const WeightMatrix& w, const QuantizedActs& acts, float* y,
                         size_t y_stride, const WeightKernels& kernels, int64_t row_begin,
                         int64_t row_end) {
  CHECK_MSG(acts.type == kernels.act_type && acts.k == w.k,
            "activations were quantized for other kernels or another k");
  CHECK(0 <= row_begin && row_begin <= row_end && row_end <= w.n_out);
  if (acts.n_tokens <= 0) return;
  ProductRows(w, acts, y, y_stride, kernels, IndexRange{row_begin, row_end});
}

void Matmul(const WeightMatrix& w, const float* x, size_t x_stride, int64_t n_tokens, float* y,
            size_t y_stride, const MatmulOptions& options) {
  const WeightKernels* kernels =
      options.kernels != nullptr ? options.kernels : FindWeightKernels(w.type);
  CHECK_MSG(kernels != nullptr, "no kernels for this weight type");
  CHECK(w.n_out >= 0 && w.k >= 0 && n_tokens >= 0);
  const std::optional<size_t> w_row_bytes = RowBytes(w.type, w.k);
  CHECK_MSG(w_row_bytes.has_value() && w.row_stride >= *w_row_bytes,
            "k is not a whole number of weight blocks, or the row stride is too small");
  if (w.n_out == 0 || n_tokens == 0) return;
  MatmulScratch& scratch = options.scratch != nullptr ? *options.scratch : ThreadScratch();
  const QuantizedActs acts =
      QuantizeActivations(*kernels, x, n_tokens, w.k, x_stride, options.pool, scratch);
  MatmulQuantized(w, acts, y, y_stride, *kernels, options.pool);
}

void Matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            const MatmulOptions& options) {
  Matmul(w, x, static_cast<size_t>(w.k), n_tokens, y, static_cast<size_t>(w.n_out), options);
}

}  // namespace autarky::kernels
