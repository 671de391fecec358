// What the CPU can do, detected once at run time, and which SIMD level the kernels use.
#pragma once

#include <string_view>

namespace autarky {

// Instruction-set levels with their own kernel implementations, lowest first.
//   kScalar: portable C++ (also the reference the SIMD kernels are tested against).
//   kAvx2:   x86-64 AVX2 + FMA + F16C (Haswell, Zen 1 and later).
//   kAvx512: AVX-512 F/BW/DQ/VL + VNNI (Ice Lake, Zen 4 and later); BF16 optional inside.
//   kNeon:   AArch64 Advanced SIMD (every ARMv8-A CPU); dot-product extension optional inside.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };
inline constexpr int kNumIsas = 4;

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool neon = false, neon_dotprod = false;
};

const CpuFeatures& DetectCpuFeatures();

// True when this CPU can run kernels of `isa` (and this binary contains them).
bool IsaSupported(Isa isa);

// The best supported level, lowered by the AUTARKY_ISA environment variable
// (scalar|avx2|avx512|neon) when set; an unsupported request falls back with a warning.
Isa ActiveIsa();

std::string_view IsaName(Isa isa);
bool ParseIsa(std::string_view name, Isa* isa);

}  // namespace autarky
