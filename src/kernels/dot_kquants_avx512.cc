// AVX-512 kernels of the K-quant family (Q2_K ... Q6_K, IQ4_XS x Q8_K) and the Q8_K quantizer:
// the shared x86 scheme of dot_kquants_x86_inl.h with AVX-512 VNNI products (vpdpbusd,
// vpdpwssd) on 256-bit registers (the file explains why not 512-bit), and the prompt-processing
// gemm over panels of 16 repacked rows on 512-bit registers (kquant_packed_x86_inl.h).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized (GCC bug 105593); see dot_legacy_avx512.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define AUTARKY_KQ_VNNI 1
#include "kernels/dot_kquants_x86_inl.h"

namespace autarky::kernels {
namespace {

#include "kernels/transpose_avx512_inl.h"
// (uses the transpose)
#include "kernels/kquant_packed_x86_inl.h"

constexpr PackedGemmKernels kPackedQ2K = packed::Entry<Q2K>();
constexpr PackedGemmKernels kPackedQ3K = packed::Entry<Q3K>();
constexpr PackedGemmKernels kPackedQ4K = packed::Entry<Q4K>();
constexpr PackedGemmKernels kPackedQ5K = packed::Entry<Q5K>();
constexpr PackedGemmKernels kPackedQ6K = packed::Entry<Q6K>();
constexpr PackedGemmKernels kPackedIQ4XS = packed::Entry<IQ4XS>();

}  // namespace

void RegisterKQuantsAvx512(KernelRegistry& registry) {
  RegisterKQuantsX86(registry);
  const struct {
    DType type;
    const PackedGemmKernels* packed;
  } kPacked[] = {{DType::kQ2_K, &kPackedQ2K}, {DType::kQ3_K, &kPackedQ3K},
                 {DType::kQ4_K, &kPackedQ4K}, {DType::kQ5_K, &kPackedQ5K},
                 {DType::kQ6_K, &kPackedQ6K}, {DType::kIQ4_XS, &kPackedIQ4XS}};
  for (const auto& p : kPacked) registry.entries[static_cast<uint32_t>(p.type)].packed = p.packed;
}

}  // namespace autarky::kernels
