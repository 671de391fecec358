// Linear projections of one input through several weight matrices (Q/K/V, gate/up) that share
// each activation quantization, plus the small row-wise helpers of the layers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/matmul.h"

namespace autarky {

class ThreadPool;

struct Projection {
  const kernels::WeightMatrix* w = nullptr;  // {n_out, k}
  const std::vector<float>* bias = nullptr;  // {n_out} or nullptr/empty
  float* y = nullptr;                        // {n_tokens, n_out}, rows y_stride floats apart
  size_t y_stride = 0;
};

// y_i = x · W_iᵀ + b_i for each projection, x {n_tokens, k} (rows x_stride floats apart).
// Inputs are quantized once per distinct activation type.
void ProjectShared(const float* x, int64_t n_tokens, size_t x_stride,
                   std::span<const Projection> projections, ThreadPool& pool,
                   kernels::MatmulScratch& scratch);

// x[i] += y[i] for n_tokens rows of n elements (rows `stride` floats apart in both).
void AddRows(float* x, const float* y, int64_t n_tokens, int64_t n, size_t stride);

}  // namespace autarky
