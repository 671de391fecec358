// The traits table of tensor element types.
#include "tensor/dtype.h"

#include <array>
#include <limits>

#include "tensor/quant_blocks.h"
#include "util/check.h"
#include "util/strings.h"

namespace autarky {
namespace {

struct Entry {
  DType type;
  DTypeTraits traits;
};

template <typename Block>
constexpr DTypeTraits Quantized(std::string_view name, bool weight_type = true) {
  return {name, Block::kBlockSize, sizeof(Block), true, weight_type};
}
constexpr DTypeTraits Plain(std::string_view name, size_t bytes, bool weight_type) {
  return {name, 1, bytes, false, weight_type};
}

constexpr Entry kEntries[] = {
    {DType::kF32, Plain("F32", 4, true)},
    {DType::kF16, Plain("F16", 2, true)},
    {DType::kQ4_0, Quantized<BlockQ4_0>("Q4_0")},
    {DType::kQ4_1, Quantized<BlockQ4_1>("Q4_1")},
    {DType::kQ5_0, Quantized<BlockQ5_0>("Q5_0")},
    {DType::kQ5_1, Quantized<BlockQ5_1>("Q5_1")},
    {DType::kQ8_0, Quantized<BlockQ8_0>("Q8_0")},
    {DType::kQ8_1, Quantized<BlockQ8_1>("Q8_1", false)},
    {DType::kQ2_K, Quantized<BlockQ2_K>("Q2_K")},
    {DType::kQ3_K, Quantized<BlockQ3_K>("Q3_K")},
    {DType::kQ4_K, Quantized<BlockQ4_K>("Q4_K")},
    {DType::kQ5_K, Quantized<BlockQ5_K>("Q5_K")},
    {DType::kQ6_K, Quantized<BlockQ6_K>("Q6_K")},
    {DType::kQ8_K, Quantized<BlockQ8_K>("Q8_K", false)},
    {DType::kIQ4_NL, Quantized<BlockIQ4_NL>("IQ4_NL")},
    {DType::kIQ4_XS, Quantized<BlockIQ4_XS>("IQ4_XS")},
    {DType::kI8, Plain("I8", 1, false)},
    {DType::kI16, Plain("I16", 2, false)},
    {DType::kI32, Plain("I32", 4, false)},
    {DType::kI64, Plain("I64", 8, false)},
    {DType::kF64, Plain("F64", 8, false)},
    {DType::kBF16, Plain("BF16", 2, true)},
};

struct Table {
  std::array<const DTypeTraits*, kDTypeIdLimit> by_id{};
  std::array<DType, std::size(kEntries)> all{};
};

const Table& GetTable() {
  static const Table table = [] {
    Table t;
    size_t i = 0;
    for (const Entry& e : kEntries) {
      const auto id = static_cast<uint32_t>(e.type);
      CHECK(id < kDTypeIdLimit && t.by_id[id] == nullptr);
      t.by_id[id] = &e.traits;
      t.all[i++] = e.type;
    }
    return t;
  }();
  return table;
}

}  // namespace

const DTypeTraits* FindTraits(uint32_t type_id) {
  return type_id < kDTypeIdLimit ? GetTable().by_id[type_id] : nullptr;
}

const DTypeTraits& Traits(DType type) {
  const DTypeTraits* traits = FindTraits(static_cast<uint32_t>(type));
  CHECK_MSG(traits != nullptr, "DType value outside the traits table");
  return *traits;
}

std::optional<DType> DTypeFromId(uint32_t type_id) {
  if (FindTraits(type_id) == nullptr) return std::nullopt;
  return static_cast<DType>(type_id);
}

std::optional<DType> ParseDType(std::string_view name) {
  for (DType type : GetTable().all) {
    if (EqualsIgnoreCase(Traits(type).name, name)) return type;
  }
  return std::nullopt;
}

std::optional<size_t> RowBytes(DType type, int64_t n_elems) {
  const DTypeTraits& t = Traits(type);
  if (n_elems < 0 || n_elems % t.block_elems != 0) return std::nullopt;
  const auto blocks = static_cast<uint64_t>(n_elems / t.block_elems);
  if (blocks > std::numeric_limits<size_t>::max() / t.block_bytes) return std::nullopt;
  return static_cast<size_t>(blocks * t.block_bytes);
}

const DType* AllDTypes(size_t* count) {
  *count = GetTable().all.size();
  return GetTable().all.data();
}

}  // namespace autarky
