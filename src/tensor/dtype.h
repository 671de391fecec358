// Tensor element types (ids as in GGUF/ggml) and their traits table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace autarky {

// Values are the on-disk GGUF type ids; gaps are ggml types autarky does not know.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,  // activations only
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,  // activations only
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

// One past the largest id above; sizes lookup tables indexed by id.
inline constexpr uint32_t kDTypeIdLimit = 31;

struct DTypeTraits {
  std::string_view name;      // as llama.cpp prints it: "F32", "Q4_K", "IQ4_XS" ...
  int64_t block_elems;        // weights per block (1 for plain scalar types)
  size_t block_bytes;         // bytes per block
  bool quantized;             // block-quantized (as opposed to plain scalars)
  bool weight_type;           // may appear as a weight in a model file and be dequantized
};

// Traits of a known type; nullptr for an id autarky does not know.
const DTypeTraits* FindTraits(uint32_t type_id);
const DTypeTraits& Traits(DType type);

inline std::string_view DTypeName(DType type) { return Traits(type).name; }

// Type from its GGUF id, if known.
std::optional<DType> DTypeFromId(uint32_t type_id);

// Type from its name, case-insensitive ("q4_k" -> kQ4_K).
std::optional<DType> ParseDType(std::string_view name);

// Bytes of `n_elems` elements, or nullopt when n_elems is negative or not a whole number of
// blocks, or when the size overflows.
std::optional<size_t> RowBytes(DType type, int64_t n_elems);

// All types known, in id order.
const DType* AllDTypes(size_t* count);

}  // namespace autarky
