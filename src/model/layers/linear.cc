// Shared-input projections and row helpers.
#include "model/layers/linear.h"

#include "kernels/kernel_table.h"
#include "util/check.h"
#include "util/thread_pool.h"

namespace autarky {

void ProjectShared(const float* x, int64_t n_tokens, size_t x_stride,
                   std::span<const Projection> projections, ThreadPool& pool,
                   kernels::MatmulScratch& scratch) {
  kernels::QuantizedActs acts;
  bool have_acts = false;
  DType quantized_for = DType::kF32;
  for (const Projection& p : projections) {
    const kernels::WeightKernels* kern = kernels::FindWeightKernels(p.w->type);
    CHECK(kern != nullptr);
    if (!have_acts || kern->act_type != quantized_for) {
      have_acts = true;
      acts = kernels::QuantizeActivations(*kern, x, n_tokens, p.w->k, x_stride, &pool, scratch);
      quantized_for = kern->act_type;
    }
    kernels::MatmulQuantized(*p.w, acts, p.y, p.y_stride, *kern, &pool);
    if (p.bias != nullptr && !p.bias->empty()) {
      const float* b = p.bias->data();
      for (int64_t t = 0; t < n_tokens; ++t) {
        float* row = p.y + t * p.y_stride;
        for (int64_t i = 0; i < p.w->n_out; ++i) row[i] += b[i];
      }
    }
  }
}

void AddRows(float* x, const float* y, int64_t n_tokens, int64_t n, size_t stride) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* xr = x + t * stride;
    const float* yr = y + t * stride;
    for (int64_t i = 0; i < n; ++i) xr[i] += yr[i];
  }
}

}  // namespace autarky
