// Threaded matrix products y = x · Wᵀ for every weight type with kernels (kernel_table.h):
// activations are quantized once per row to the kernels' act_type, then the weight rows are
// split across the threads of a pool and fed to the multi-column gemm kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/dtype.h"

namespace autarky {
class ThreadPool;
}

namespace autarky::kernels {

struct WeightKernels;

// A weight matrix {n_out, k}: n_out rows of k elements of `type`, `row_stride` bytes apart
// (at least RowBytes(type, k)); k is a whole number of blocks of `type` and of the act_type.
struct WeightMatrix {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t n_out = 0;
  int64_t k = 0;
  size_t row_stride = 0;
};

// Growing, 64-byte aligned buffer for quantized activations. It keeps its largest size, so
// once a forward pass has run, later matmuls through it allocate nothing. One per thread that
// calls Matmul (not shared by concurrent callers).
class MatmulScratch {
 public:
  MatmulScratch() = default;
  // At least `bytes` bytes, 64-byte aligned; contents are not preserved across growth.
  void* Reserve(size_t bytes);
  size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> data_;
  size_t capacity_ = 0;
};

// Activation rows quantized for one weight type: {n_tokens} rows of k elements of `type`,
// `row_stride` bytes apart.
struct QuantizedActs {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t n_tokens = 0;
  int64_t k = 0;
  size_t row_stride = 0;
};

struct MatmulOptions {
  ThreadPool* pool = nullptr;        // nullptr: the calling thread alone
  MatmulScratch* scratch = nullptr;  // nullptr: a scratch owned by the calling thread
  // Kernels to use (e.g. FindWeightKernels(type, Isa::kAvx2) in tests); nullptr: those of the
  // weight type at the active ISA. Must be the weight type's kernels.
  const WeightKernels* kernels = nullptr;
};

// Quantizes x {n_tokens, k} (rows `x_stride` floats apart) to kernels.act_type in `scratch`
// (in parallel over tokens when there are many). With act_type F32 no copy is made: the result
// points into x. The result is valid until `scratch` is next used.
QuantizedActs QuantizeActivations(const WeightKernels& kernels, const float* x, int64_t n_tokens,
                                  int64_t k, size_t x_stride, ThreadPool* pool,
                                  MatmulScratch& scratch);

// y {acts.n_tokens, w.n_out} (rows `y_stride` floats apart) = acts · Wᵀ, with acts quantized for
// `kernels` (QuantizeActivations): lets several matrices with the same act_type share one
// quantization of the same input (e.g. the Q, K and V projections).
void MatmulQuantized(const WeightMatrix& w, const QuantizedActs& acts, float* y, size_t y_stride,
                     const WeightKernels& kernels, ThreadPool* pool);

// Rows [row_begin, row_end) of MatmulQuantized's y, on the calling thread alone (the same bits
// as MatmulQuantized gives those rows): for callers that split several products across a pool
// themselves, so that many small matrices take one parallel region instead of one each.
void MatmulQuantizedRows(const WeightMatrix& w, const QuantizedActs& acts, float* y,
                         size_t y_stride, const WeightKernels& kernels, int64_t row_begin,
                         int64_t row_end);

// y {n_tokens, w.n_out} = x {n_tokens, w.k} · Wᵀ, rows of x and y contiguous.
void Matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            const MatmulOptions& options = {});

// As above with row strides in floats (x_stride >= w.k, y_stride >= w.n_out).
void Matmul(const WeightMatrix& w, const float* x, size_t x_stride, int64_t n_tokens, float* y,
            size_t y_stride, const MatmulOptions& options = {});

// Weight rows per scheduling unit: each thread's share of the rows is a multiple of this
// (except at the end of the matrix), so gemm kernels see whole row tiles.
inline constexpr int64_t kMatmulRowTile = 16;
// Activation rows per gemm call (the gemm kernels' widest column tile).
inline constexpr int kMatmulColTile = 8;

}  // namespace autarky::kernels
