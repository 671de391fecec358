// GGUF format constants, metadata value types and GgufValue, shared by the reader and writer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "util/check.h"

namespace autarky {

static_assert(std::endian::native == std::endian::little,
              "GGUF values are little-endian and are read in place");

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr std::string_view kGgufAlignmentKey = "general.alignment";
inline constexpr int kGgufMaxDims = 4;

// Limits on what a file may declare. They bound memory and work; real files are far below.
inline constexpr uint64_t kGgufMaxKeyBytes = 65535;                   // the spec's key limit
inline constexpr uint64_t kGgufMaxStringBytes = uint64_t{1} << 30;    // as llama.cpp
inline constexpr uint64_t kGgufMaxArrayElements = uint64_t{1} << 30;  // as llama.cpp
inline constexpr int kGgufMaxArrayDepth = 8;  // arrays of arrays; bounds the parser's recursion
// llama.cpp stores names in a 64-byte buffer with a terminating NUL (GGML_MAX_NAME); the writer
// refuses longer names so that every file autarky writes stays loadable there.
inline constexpr uint64_t kGgufMaxTensorNameBytes = 63;
// Tensor names longer than this are refused by the reader (generous: other builds of ggml may
// raise GGML_MAX_NAME).
inline constexpr uint64_t kGgufReaderMaxTensorNameBytes = 4096;
inline constexpr uint32_t kGgufMaxAlignment = uint32_t{1} << 24;  // 16 MiB: above 4 KiB..2 MiB pages
// Counts whose records the reader keeps in memory (~100 bytes each): bounding them bounds the
// reader's memory whatever the file says. Real models have tens of keys and at most a few
// thousand tensors; ggml itself cannot read arrays of arrays, so real files have none.
inline constexpr uint64_t kGgufMaxKeyValues = uint64_t{1} << 20;
inline constexpr uint64_t kGgufMaxTensors = uint64_t{1} << 20;
inline constexpr uint64_t kGgufMaxNestedArrayElements = uint64_t{1} << 20;  // whole file

// Metadata value type ids as stored in the file.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
inline constexpr uint32_t kGgufTypeCount = 13;

// Short name as llama.cpp prints it ("u32", "str", "arr"); "?" for an id outside the enum.
std::string_view GgufTypeName(GgufType type);
// Bytes of one value of a fixed-size type (numbers, bool); 0 for string and array.
size_t GgufTypeSize(GgufType type);
inline bool GgufTypeIsInteger(GgufType t) {
  return t == GgufType::kU8 || t == GgufType::kI8 || t == GgufType::kU16 || t == GgufType::kI16 ||
         t == GgufType::kU32 || t == GgufType::kI32 || t == GgufType::kU64 || t == GgufType::kI64;
}

// The metadata type of a C++ scalar: GgufTypeOf<uint32_t>::value == GgufType::kU32.
template <typename T>
struct GgufTypeOf;
#define AUTARKY_GGUF_TYPE_OF(cpp, id)               \
  template <>                                       \
  struct GgufTypeOf<cpp> {                          \
    static constexpr GgufType value = GgufType::id; \
  }
AUTARKY_GGUF_TYPE_OF(uint8_t, kU8);
AUTARKY_GGUF_TYPE_OF(int8_t, kI8);
AUTARKY_GGUF_TYPE_OF(uint16_t, kU16);
AUTARKY_GGUF_TYPE_OF(int16_t, kI16);
AUTARKY_GGUF_TYPE_OF(uint32_t, kU32);
AUTARKY_GGUF_TYPE_OF(int32_t, kI32);
AUTARKY_GGUF_TYPE_OF(float, kF32);
AUTARKY_GGUF_TYPE_OF(bool, kBool);
AUTARKY_GGUF_TYPE_OF(uint64_t, kU64);
AUTARKY_GGUF_TYPE_OF(int64_t, kI64);
AUTARKY_GGUF_TYPE_OF(double, kF64);
#undef AUTARKY_GGUF_TYPE_OF

template <typename T>
concept GgufScalar = requires {
  GgufTypeOf<T>::value;
};

// One metadata value: a scalar, a string, or an array (of scalars, strings or arrays).
//
// Values parsed from a file borrow the file's bytes (strings and numeric arrays are views into
// the mapping, so the 150k token strings of a vocabulary are not copied): such a value is valid
// while its GgufFile lives. Values built by the factories below own their bytes; Owned() turns
// a borrowed value into an owned one. Copies are cheap for scalars and share owned bytes.
class GgufValue {
 public:
  template <GgufScalar T>
  static GgufValue Scalar(T value);
  static GgufValue U8(uint8_t v) { return Scalar(v); }
  static GgufValue I8(int8_t v) { return Scalar(v); }
  static GgufValue U16(uint16_t v) { return Scalar(v); }
  static GgufValue I16(int16_t v) { return Scalar(v); }
  static GgufValue U32(uint32_t v) { return Scalar(v); }
  static GgufValue I32(int32_t v) { return Scalar(v); }
  static GgufValue F32(float v) { return Scalar(v); }
  static GgufValue Bool(bool v) { return Scalar(v); }
  static GgufValue U64(uint64_t v) { return Scalar(v); }
  static GgufValue I64(int64_t v) { return Scalar(v); }
  static GgufValue F64(double v) { return Scalar(v); }
  static GgufValue String(std::string_view v);

  // Arrays of numbers or bools (copied).
  template <GgufScalar T>
  static GgufValue Array(std::span<const T> values);
  template <GgufScalar T>
  static GgufValue Array(const std::vector<T>& values) {
    return Array(std::span<const T>(values));
  }
  static GgufValue BoolArray(const std::vector<bool>& values);
  static GgufValue StringArray(std::span<const std::string_view> values);
  static GgufValue StringArray(const std::vector<std::string>& values);
  // An array whose elements are arrays (each may have its own element type and length).
  static GgufValue ArrayOfArrays(std::vector<GgufValue> items);
  // An array of a fixed-size element type from its little-endian bytes (copied).
  static GgufValue RawArray(GgufType element_type, std::string_view little_endian_bytes);

  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::kArray; }

  // Scalar access. The type must match (CHECK): these are for code that already looked at
  // type(); input-facing code uses GgufFile's Result-returning getters.
  template <GgufScalar T>
  T Get() const;
  std::string_view str() const;
  // Any integer scalar whose value fits in T; nullopt for other types or values out of range.
  template <typename T>
  std::optional<T> AsInteger() const;
  // An f32 or f64 scalar as double; nullopt for other types.
  std::optional<double> AsFloat() const;
  // A fixed-size scalar's little-endian bytes, zero-extended (what the file stores).
  uint64_t scalar_bits() const;

  // Array access (CHECK that this is an array of the right element type).
  GgufType element_type() const;
  size_t size() const;  // number of elements
  template <GgufScalar T>
  T At(size_t i) const;
  // All elements of a numeric/bool array whose element type is exactly T's.
  template <GgufScalar T>
  std::vector<T> ToVector() const;
  std::span<const std::string_view> strings() const;  // array of strings
  std::span<const GgufValue> items() const;           // array of arrays
  // Little-endian bytes of a numeric/bool array's elements.
  std::string_view raw_bytes() const;

  // A copy that borrows nothing (safe to keep after the source file is closed).
  GgufValue Owned() const;
  // Bytes this value takes in a file after its type id (for arrays: element type, count, data).
  uint64_t EncodedSize() const;

  // Deep equality of type and contents (floats compared bitwise).
  friend bool operator==(const GgufValue& a, const GgufValue& b);

 private:
  friend class GgufValueBuilder;  // the reader's way of making borrowed values
  GgufValue() = default;
  void CheckArrayOf(GgufType element_type) const;

  GgufType type_ = GgufType::kU8;
  GgufType element_type_ = GgufType::kU8;  // arrays only
  uint64_t bits_ = 0;  // fixed-size scalars: the little-endian bytes, zero-extended
  // String scalar: its bytes. Numeric/bool array: the elements' little-endian bytes.
  std::string_view bytes_;
  std::vector<std::string_view> strings_;     // array of strings
  std::vector<GgufValue> items_;              // array of arrays
  size_t count_ = 0;                          // arrays: element count
  std::shared_ptr<const std::string> owned_;  // backs the views when this value owns its bytes
};

// Makes values that view bytes owned by someone else (the reader's mapping).
class GgufValueBuilder {
 public:
  static GgufValue FixedScalar(GgufType type, const uint8_t* bytes);
  static GgufValue BorrowedString(std::string_view bytes);
  static GgufValue BorrowedFixedArray(GgufType element_type, size_t count, std::string_view bytes);
  static GgufValue BorrowedStringArray(std::vector<std::string_view> strings);
  static GgufValue NestedArray(std::vector<GgufValue> items);
};

// ---- template definitions ----

template <GgufScalar T>
GgufValue GgufValue::Scalar(T value) {
  GgufValue v;
  v.type_ = GgufTypeOf<T>::value;
  if constexpr (std::is_same_v<T, bool>) {
    v.bits_ = value ? 1 : 0;
  } else {
    std::memcpy(&v.bits_, &value, sizeof(T));
  }
  return v;
}

template <GgufScalar T>
GgufValue GgufValue::Array(std::span<const T> values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) bytes[i] = values[i] ? 1 : 0;
  } else if (!values.empty()) {
    std::memcpy(bytes.data(), values.data(), bytes.size());
  }
  return RawArray(GgufTypeOf<T>::value, bytes);
}

template <GgufScalar T>
T GgufValue::Get() const {
  CHECK_MSG(type_ == GgufTypeOf<T>::value, "GgufValue::Get: type mismatch");
  if constexpr (std::is_same_v<T, bool>) {
    return bits_ != 0;
  } else {
    T out;
    std::memcpy(&out, &bits_, sizeof(T));
    return out;
  }
}

template <typename T>
std::optional<T> GgufValue::AsInteger() const {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  int64_t s = 0;
  uint64_t u = 0;
  bool is_signed = true;
  switch (type_) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64:
      u = bits_;
      is_signed = false;
      break;
    case GgufType::kI8:
      s = Get<int8_t>();
      break;
    case GgufType::kI16:
      s = Get<int16_t>();
      break;
    case GgufType::kI32:
      s = Get<int32_t>();
      break;
    case GgufType::kI64:
      s = Get<int64_t>();
      break;
    default:
      return std::nullopt;
  }
  if (is_signed) {
    if (!std::in_range<T>(s)) return std::nullopt;
    return static_cast<T>(s);
  }
  if (!std::in_range<T>(u)) return std::nullopt;
  return static_cast<T>(u);
}

template <GgufScalar T>
T GgufValue::At(size_t i) const {
  CheckArrayOf(GgufTypeOf<T>::value);
  CHECK_MSG(i < count_, "GgufValue::At: index out of range");
  if constexpr (std::is_same_v<T, bool>) {
    return bytes_[i] != 0;
  } else {
    T out;
    std::memcpy(&out, bytes_.data() + i * sizeof(T), sizeof(T));
    return out;
  }
}

template <GgufScalar T>
std::vector<T> GgufValue::ToVector() const {
  CheckArrayOf(GgufTypeOf<T>::value);
  std::vector<T> out(count_);
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < count_; ++i) out[i] = bytes_[i] != 0;
  } else if (count_ > 0) {
    std::memcpy(out.data(), bytes_.data(), count_ * sizeof(T));
  }
  return out;
}

}  // namespace autarky
