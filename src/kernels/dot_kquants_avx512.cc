// AVX-512 kernels of the K-quant family (Q2_K ... Q6_K, IQ4_XS x Q8_K) and the Q8_K quantizer:
// the shared x86 scheme of dot_kquants_x86_inl.h with AVX-512 VNNI products (vpdpbusd,
// vpdpwssd) on 256-bit registers (the file explains why not 512-bit).
#define AUTARKY_KQ_VNNI 1
#include "kernels/dot_kquants_x86_inl.h"

namespace autarky::kernels {

void RegisterKQuantsAvx512(KernelRegistry& registry) { RegisterKQuantsX86(registry); }

}  // namespace autarky::kernels
