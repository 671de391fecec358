// GgufBytes: builds GGUF images byte by byte for tests, independently of GgufWriter, so that
// reader tests do not share the writer's understanding of the format.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace autarky::testing {

class GgufBytes {
 public:
  // Value type ids of the GGUF spec, spelled out here rather than taken from io/gguf.h.
  enum : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kStr = 8,
    kArr = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
  };

  GgufBytes& Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    Raw("GGUF", 4);
    return U32(version).U64(n_tensors).U64(n_kv);
  }
  GgufBytes& Raw(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
    return *this;
  }
  template <typename T>
  GgufBytes& Fixed(T v) {
    return Raw(&v, sizeof(v));
  }
  GgufBytes& U8(uint8_t v) { return Fixed(v); }
  GgufBytes& U32(uint32_t v) { return Fixed(v); }
  GgufBytes& U64(uint64_t v) { return Fixed(v); }
  GgufBytes& Str(std::string_view s) {
    U64(s.size());
    return Raw(s.data(), s.size());
  }
  // Key and type id of a metadata entry; the value follows.
  GgufBytes& Key(std::string_view key, uint32_t type) { return Str(key).U32(type); }
  GgufBytes& KeyU32(std::string_view key, uint32_t v) { return Key(key, kU32).U32(v); }
  GgufBytes& KeyStr(std::string_view key, std::string_view v) { return Key(key, kStr).Str(v); }
  GgufBytes& ArrayHeader(uint32_t element_type, uint64_t count) {
    return U32(element_type).U64(count);
  }
  GgufBytes& TensorInfo(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                        uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  GgufBytes& PadTo(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  // `n` bytes counting up from `seed`, so data blocks are distinguishable.
  GgufBytes& Pattern(size_t n, uint8_t seed) {
    for (size_t i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(seed + i * 7));
    return *this;
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& mutable_bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace autarky::testing
