// AVX2 kernels of the K-quant family (Q2_K ... Q6_K, IQ4_XS x Q8_K) and the AVX2 Q8_K quantizer:
// the shared x86 scheme of dot_kquants_x86_inl.h with vpmaddubsw + vpmaddwd products.
#define AUTARKY_KQ_VNNI 0
#include "kernels/dot_kquants_x86_inl.h"

namespace autarky::kernels {

void RegisterKQuantsAvx2(KernelRegistry& registry) { RegisterKQuantsX86(registry); }

}  // namespace autarky::kernels
