// Builds the per-ISA kernel tables once and resolves fallbacks to lower ISA levels.
#include "kernels/kernel_table.h"

#include <array>

#include "util/check.h"

namespace autarky::kernels {
namespace {

struct Tables {
  std::array<KernelRegistry, kNumIsas> by_isa{};
};

using RegisterFn = void (*)(KernelRegistry&);

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
  // Fill holes from the next lower level.
  const Isa fallback_of[kNumIsas] = {Isa::kScalar, Isa::kScalar, Isa::kAvx2, Isa::kScalar};
  for (int isa : {1, 3, 2}) {  // avx2 before avx512, which falls back to it
    const auto& lower = t.by_isa[static_cast<int>(fallback_of[isa])];
    for (uint32_t id = 0; id < kDTypeIdLimit; ++id) {
      if (t.by_isa[isa].entries[id].vec_dot == nullptr)
        t.by_isa[isa].entries[id] = lower.entries[id];
    }
  }
  for (const KernelRegistry& registry : t.by_isa) {
    for (const WeightKernels& e : registry.entries) {
      CHECK_MSG(e.vec_dot == nullptr || (e.gemm != nullptr && e.quantize_act != nullptr),
                "a kernel family registered an entry without gemm or activation quantizer");
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

const WeightKernels* FindWeightKernels(DType weight) {
  return FindWeightKernels(weight, ActiveIsa());
}

}  // namespace autarky::kernels
