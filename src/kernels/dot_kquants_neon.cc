// NEON kernels of the K-quant family (Q2_K ... Q6_K, IQ4_XS x Q8_K) and the NEON Q8_K quantizer
// (bit-identical to the scalar one). The kernels of dot_kquants_neon_inl.h are compiled twice:
// for baseline AArch64 and for the dot-product extension (ARMv8.2 vdotq_s32), chosen at run time.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/kquant_scales.h"
#include "kernels/ref/act_quant_k.h"
#include "tensor/quant_blocks.h"
#include "util/check.h"
#include "util/cpu_features.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// Q8_K quantizer. Matches QuantizeBlockQ8KRef bit for bit: the same max search (first element
// of largest magnitude), the same float products iscale * x, round-to-nearest-even conversion
// (vcvtnq, what the reference's magic-number rounding does) and d = 1 / iscale. Blocks with NaN
// or infinity, or whose scale overflows, go to the reference, which defines those cases.
void QuantizeActQ8KNeon(const float* x, void* y, int64_t k) {
  DCHECK(k % kQK_K == 0);
  const float32x4_t finite_max = vdupq_n_f32(3.40282347e38f);
  for (int64_t b = 0; b < k / kQK_K; ++b, x += kQK_K) {
    uint8_t* out = static_cast<uint8_t*>(y) + b * sizeof(BlockQ8_K);
    float32x4_t amax = vdupq_n_f32(0.0f);
    uint32x4_t finite = vdupq_n_u32(~0u);
    for (int i = 0; i < kQK_K; i += 4) {
      const float32x4_t ax = vabsq_f32(vld1q_f32(x + i));
      amax = vmaxq_f32(amax, ax);
      finite = vandq_u32(finite, vcleq_f32(ax, finite_max));  // false for NaN and infinity
    }
    const float amax_s = vmaxvq_f32(amax);
    if (vminvq_u32(finite) == 0 || amax_s == 0.0f) {
      QuantizeBlockQ8KRef(x, out);
      continue;
    }
    float max = 0.0f;
    for (int i = 0; i < kQK_K; ++i) {
      if (__builtin_fabsf(x[i]) == amax_s) {
        max = x[i];
        break;
      }
    }
    const float iscale = -127.0f / max;
    if (!__builtin_isfinite(iscale)) {
      QuantizeBlockQ8KRef(x, out);
      continue;
    }
    const int32x4_t lo = vdupq_n_s32(-127), hi = vdupq_n_s32(127);
    int16_t bsums[kQK_K / 16];
    for (int i = 0; i < kQK_K; i += 16) {
      int32x4_t q[4];
      for (int j = 0; j < 4; ++j) {
        const int32x4_t r = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 4 * j), iscale));
        q[j] = vminq_s32(vmaxq_s32(r, lo), hi);
      }
      const int16x8_t q01 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
      const int16x8_t q23 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
      vst1q_s8(reinterpret_cast<int8_t*>(out + offsetof(BlockQ8_K, qs) + i),
               vcombine_s8(vmovn_s16(q01), vmovn_s16(q23)));
      bsums[i / 16] =
          static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
    }
    __builtin_memcpy(out + offsetof(BlockQ8_K, bsums), bsums, sizeof bsums);
    const float d = 1.0f / iscale;
    __builtin_memcpy(out + offsetof(BlockQ8_K, d), &d, sizeof d);
  }
}

namespace baseline {
#define AUTARKY_KQ_DOTPROD 0
#include "kernels/dot_kquants_neon_inl.h"
#undef AUTARKY_KQ_DOTPROD
}  // namespace baseline

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
namespace dotprod {
#define AUTARKY_KQ_DOTPROD 1
#include "kernels/dot_kquants_neon_inl.h"
#undef AUTARKY_KQ_DOTPROD
}  // namespace dotprod
#pragma GCC pop_options

}  // namespace

void RegisterKQuantsNeon(KernelRegistry& registry) {
  if (DetectCpuFeatures().neon_dotprod) {
    dotprod::Register(registry);
  } else {
    baseline::Register(registry);
  }
}

}  // namespace autarky::kernels
