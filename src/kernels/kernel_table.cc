// Builds the per-ISA kernel tables once and resolves fallbacks to lower ISA levels.
#include "kernels/kernel_table.h"

#include <array>

#include "util/check.h"

namespace autarky::kernels {
namespace {

// Computes out[c][r] with vec_dot when a kernel family provides no dedicated gemm.
void GemmByVecDot(VecDotFn vec_dot, int64_t k, const void* w, size_t w_stride, int nr,
                  const void* a, size_t a_stride, int nc, float* out, size_t out_stride) {
  const auto* w_bytes = static_cast<const uint8_t*>(w);
  const auto* a_bytes = static_cast<const uint8_t*>(a);
  for (int c = 0; c < nc; ++c) {
    for (int r = 0; r < nr; ++r) {
      out[c * out_stride + r] = vec_dot(k, w_bytes + r * w_stride, a_bytes + c * a_stride);
    }
  }
}

struct Tables {
  std::array<KernelRegistry, kNumIsas> by_isa{};
};

using RegisterFn = void (*)(KernelRegistry&);

// One gemm fallback per (ISA, type) slot: a plain function pointer cannot capture vec_dot, so
// the fallback looks it up in the finished table.
template <int kIsa, uint32_t kType>
void FallbackGemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a,
                  size_t a_stride, int nc, float* out, size_t out_stride);

const Tables& GetTables();

template <int kIsa, uint32_t kType>
void FallbackGemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a,
                  size_t a_stride, int nc, float* out, size_t out_stride) {
  const VecDotFn vec_dot = GetTables().by_isa[kIsa].entries[kType].vec_dot;
  GemmByVecDot(vec_dot, k, w, w_stride, nr, a, a_stride, nc, out, out_stride);
}

template <int kIsa, uint32_t... kTypes>
constexpr std::array<GemmFn, kDTypeIdLimit> FallbackRow(std::integer_sequence<uint32_t, kTypes...>) {
  return {&FallbackGemm<kIsa, kTypes>...};
}

template <int... kIsas>
constexpr std::array<std::array<GemmFn, kDTypeIdLimit>, kNumIsas> FallbackTable(
    std::integer_sequence<int, kIsas...>) {
  return {FallbackRow<kIsas>(std::make_integer_sequence<uint32_t, kDTypeIdLimit>())...};
}

constexpr auto kFallbackGemms =
    FallbackTable(std::make_integer_sequence<int, kNumIsas>());

void Apply(KernelRegistry& registry, std::initializer_list<RegisterFn> families) {
  for (RegisterFn family : families) family(registry);
}

Tables BuildTables() {
  Tables t;
  auto& scalar = t.by_isa[static_cast<int>(Isa::kScalar)];
  Apply(scalar, {RegisterFloatScalar, RegisterLegacyScalar, RegisterKQuantsScalar});
#if defined(__x86_64__)
  auto& avx2 = t.by_isa[static_cast<int>(Isa::kAvx2)];
  Apply(avx2, {RegisterFloatAvx2, RegisterLegacyAvx2, RegisterKQuantsAvx2});
  auto& avx512 = t.by_isa[static_cast<int>(Isa::kAvx512)];
  Apply(avx512, {RegisterFloatAvx512, RegisterLegacyAvx512, RegisterKQuantsAvx512});
#endif
#if defined(__aarch64__)
  auto& neon = t.by_isa[static_cast<int>(Isa::kNeon)];
  Apply(neon, {RegisterFloatNeon, RegisterLegacyNeon, RegisterKQuantsNeon});
#endif
  // Fill holes from the next lower level, then give every entry a gemm.
  const Isa fallback_of[kNumIsas] = {Isa::kScalar, Isa::kScalar, Isa::kAvx2, Isa::kScalar};
  for (int isa : {1, 3, 2}) {  // avx2 before avx512, which falls back to it
    const auto& lower = t.by_isa[static_cast<int>(fallback_of[isa])];
    for (uint32_t id = 0; id < kDTypeIdLimit; ++id) {
      if (t.by_isa[isa].entries[id].vec_dot == nullptr) t.by_isa[isa].entries[id] = lower.entries[id];
    }
  }
  for (int isa = 0; isa < kNumIsas; ++isa) {
    for (uint32_t id = 0; id < kDTypeIdLimit; ++id) {
      WeightKernels& e = t.by_isa[isa].entries[id];
      if (e.vec_dot != nullptr && e.gemm == nullptr) e.gemm = kFallbackGemms[isa][id];
    }
  }
  return t;
}

const Tables& GetTables() {
  static const Tables tables = BuildTables();
  return tables;
}

}  // namespace

void KernelRegistry::Set(DType weight, const WeightKernels& kernels) {
  const auto id = static_cast<uint32_t>(weight);
  CHECK(id < kDTypeIdLimit);
  entries[id] = kernels;
}

const WeightKernels* FindWeightKernels(DType weight, Isa isa) {
  const auto id = static_cast<uint32_t>(weight);
  if (id >= kDTypeIdLimit) return nullptr;
  const WeightKernels& e = GetTables().by_isa[static_cast<int>(isa)].entries[id];
  return e.vec_dot != nullptr ? &e : nullptr;
}

const WeightKernels* FindWeightKernels(DType weight) { return FindWeightKernels(weight, ActiveIsa()); }

}  // namespace autarky::kernels
