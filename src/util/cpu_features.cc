// CPU feature detection: cpuid/xgetbv on x86, getauxval on AArch64.
#include "util/cpu_features.h"

#include <cstdio>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace autarky {
namespace {

#if defined(__x86_64__) || defined(__i386__)
CpuFeatures DetectX86() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  const bool fma = (ecx >> 12) & 1;
  const bool f16c = (ecx >> 29) & 1;
  if (!osxsave) return f;
  // The OS must save the YMM (bits 1-2) and, for AVX-512, opmask/ZMM (bits 5-7) state.
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_ok = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_ok = (xcr0_lo & 0xe6) == 0xe6;
  if (!ymm_ok) return f;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = (ebx >> 5) & 1;
  f.fma = fma;
  f.f16c = f16c;
  if (zmm_ok) {
    f.avx512f = (ebx >> 16) & 1;
    f.avx512dq = (ebx >> 17) & 1;
    f.avx512bw = (ebx >> 30) & 1;
    f.avx512vl = (ebx >> 31) & 1;
    f.avx512vnni = (ecx >> 11) & 1;
    unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    f.avx512bf16 = (eax1 >> 5) & 1;
  }
  return f;
}
#endif

CpuFeatures Detect() {
#if defined(__x86_64__) || defined(__i386__)
  return DetectX86();
#elif defined(__aarch64__)
  CpuFeatures f;
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
  f.neon_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
  return f;
#else
  return CpuFeatures{};
#endif
}

Isa BestIsa() {
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kNeon}) {
    if (IsaSupported(isa)) return isa;
  }
  return Isa::kScalar;
}

Isa ComputeActiveIsa() {
  const Isa best = BestIsa();
  const char* requested = std::getenv("AUTARKY_ISA");
  if (requested == nullptr || *requested == '\0') return best;
  Isa isa;
  if (!ParseIsa(requested, &isa)) {
    std::fprintf(stderr, "autarky: unknown AUTARKY_ISA=%s (scalar|avx2|avx512|neon); using %s\n",
                 requested, IsaName(best).data());
    return best;
  }
  if (!IsaSupported(isa)) {
    std::fprintf(stderr, "autarky: AUTARKY_ISA=%s is not supported on this CPU; using %s\n",
                 requested, IsaName(best).data());
    return best;
  }
  return isa;
}

}  // namespace

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

bool IsaSupported(Isa isa) {
  const CpuFeatures& f = DetectCpuFeatures();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
#if defined(__x86_64__)
      return f.avx2 && f.fma && f.f16c;
#else
      return false;
#endif
    case Isa::kAvx512:
#if defined(__x86_64__)
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl &&
             f.avx512vnni;
#else
      return false;
#endif
    case Isa::kNeon:
#if defined(__aarch64__)
      return f.neon;
#else
      return false;
#endif
  }
  return false;
}

Isa ActiveIsa() {
  static const Isa isa = ComputeActiveIsa();
  return isa;
}

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kNeon:
      return "neon";
  }
  return "unknown";
}

bool ParseIsa(std::string_view name, Isa* isa) {
  for (int i = 0; i < kNumIsas; ++i) {
    if (IsaName(static_cast<Isa>(i)) == name) {
      *isa = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

}  // namespace autarky
