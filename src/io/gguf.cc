// GgufValue: construction, access checks, deep copy, size and equality of metadata values.
#include "io/gguf.h"

#include <algorithm>
#include <array>

namespace autarky {
namespace {

constexpr std::array<std::string_view, kGgufTypeCount> kTypeNames = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
constexpr std::array<size_t, kGgufTypeCount> kTypeSizes = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

}  // namespace

std::string_view GgufTypeName(GgufType type) {
  const auto id = static_cast<uint32_t>(type);
  return id < kGgufTypeCount ? kTypeNames[id] : std::string_view("?");
}

size_t GgufTypeSize(GgufType type) {
  const auto id = static_cast<uint32_t>(type);
  return id < kGgufTypeCount ? kTypeSizes[id] : 0;
}

GgufValue GgufValue::String(std::string_view v) {
  GgufValue out;
  out.type_ = GgufType::kString;
  auto owned = std::make_shared<const std::string>(v);
  out.bytes_ = *owned;
  out.owned_ = std::move(owned);
  return out;
}

GgufValue GgufValue::RawArray(GgufType element_type, std::string_view little_endian_bytes) {
  const size_t elem = GgufTypeSize(element_type);
  CHECK_MSG(elem != 0, "GgufValue::RawArray needs a fixed-size element type");
  CHECK_MSG(little_endian_bytes.size() % elem == 0, "GgufValue::RawArray: partial element");
  GgufValue out;
  out.type_ = GgufType::kArray;
  out.element_type_ = element_type;
  out.count_ = little_endian_bytes.size() / elem;
  auto owned = std::make_shared<const std::string>(little_endian_bytes);
  out.bytes_ = *owned;
  out.owned_ = std::move(owned);
  return out;
}

GgufValue GgufValue::BoolArray(const std::vector<bool>& values) {
  std::string bytes(values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) bytes[i] = values[i] ? 1 : 0;
  return RawArray(GgufType::kBool, bytes);
}

GgufValue GgufValue::StringArray(std::span<const std::string_view> values) {
  // One allocation for all the bytes; the views point into it.
  size_t total = 0;
  for (std::string_view s : values) total += s.size();
  auto blob = std::make_shared<std::string>();
  blob->reserve(total);
  for (std::string_view s : values) blob->append(s);
  GgufValue out;
  out.type_ = GgufType::kArray;
  out.element_type_ = GgufType::kString;
  out.count_ = values.size();
  out.strings_.reserve(values.size());
  size_t pos = 0;
  for (std::string_view s : values) {
    out.strings_.emplace_back(blob->data() + pos, s.size());
    pos += s.size();
  }
  out.owned_ = std::move(blob);
  return out;
}

GgufValue GgufValue::StringArray(const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return StringArray(std::span<const std::string_view>(views));
}

GgufValue GgufValue::ArrayOfArrays(std::vector<GgufValue> items) {
  for (const GgufValue& item : items) {
    CHECK_MSG(item.is_array(), "GgufValue::ArrayOfArrays: every element must be an array");
  }
  return GgufValueBuilder::NestedArray(std::move(items));
}

std::string_view GgufValue::str() const {
  CHECK_MSG(type_ == GgufType::kString, "GgufValue::str: not a string");
  return bytes_;
}

std::optional<double> GgufValue::AsFloat() const {
  if (type_ == GgufType::kF32) return Get<float>();
  if (type_ == GgufType::kF64) return Get<double>();
  return std::nullopt;
}

uint64_t GgufValue::scalar_bits() const {
  CHECK_MSG(GgufTypeSize(type_) != 0 && !is_array(), "GgufValue::scalar_bits: not a number");
  return bits_;
}

void GgufValue::CheckArrayOf(GgufType element_type) const {
  CHECK_MSG(type_ == GgufType::kArray && element_type_ == element_type,
            "GgufValue: not an array of the requested element type");
}

GgufType GgufValue::element_type() const {
  CHECK_MSG(is_array(), "GgufValue::element_type: not an array");
  return element_type_;
}

size_t GgufValue::size() const {
  CHECK_MSG(is_array(), "GgufValue::size: not an array");
  return count_;
}

std::span<const std::string_view> GgufValue::strings() const {
  CheckArrayOf(GgufType::kString);
  return strings_;
}

std::span<const GgufValue> GgufValue::items() const {
  CheckArrayOf(GgufType::kArray);
  return items_;
}

std::string_view GgufValue::raw_bytes() const {
  CHECK_MSG(is_array() && GgufTypeSize(element_type_) != 0,
            "GgufValue::raw_bytes: not an array of fixed-size elements");
  return bytes_;
}

GgufValue GgufValue::Owned() const {
  if (type_ == GgufType::kString) return String(bytes_);
  if (type_ != GgufType::kArray) return *this;
  if (element_type_ == GgufType::kString) return StringArray(std::span(strings_));
  if (element_type_ == GgufType::kArray) {
    std::vector<GgufValue> items;
    items.reserve(items_.size());
    for (const GgufValue& item : items_) items.push_back(item.Owned());
    return GgufValueBuilder::NestedArray(std::move(items));
  }
  return RawArray(element_type_, bytes_);
}

uint64_t GgufValue::EncodedSize() const {
  switch (type_) {
    case GgufType::kString:
      return 8 + bytes_.size();
    case GgufType::kArray: {
      uint64_t total = 4 + 8;  // element type, count
      if (element_type_ == GgufType::kString) {
        for (std::string_view s : strings_) total += 8 + s.size();
      } else if (element_type_ == GgufType::kArray) {
        for (const GgufValue& item : items_) total += item.EncodedSize();
      } else {
        total += bytes_.size();
      }
      return total;
    }
    default:
      return GgufTypeSize(type_);
  }
}

bool operator==(const GgufValue& a, const GgufValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case GgufType::kString:
      return a.bytes_ == b.bytes_;
    case GgufType::kArray:
      if (a.element_type_ != b.element_type_ || a.count_ != b.count_) return false;
      if (a.element_type_ == GgufType::kString) {
        return std::equal(a.strings_.begin(), a.strings_.end(), b.strings_.begin());
      }
      if (a.element_type_ == GgufType::kArray) {
        return std::equal(a.items_.begin(), a.items_.end(), b.items_.begin());
      }
      return a.bytes_ == b.bytes_;
    default:
      return a.bits_ == b.bits_;
  }
}

GgufValue GgufValueBuilder::FixedScalar(GgufType type, const uint8_t* bytes) {
  const size_t size = GgufTypeSize(type);
  CHECK(size != 0);
  GgufValue v;
  v.type_ = type;
  std::memcpy(&v.bits_, bytes, size);  // little-endian host: zero-extends
  return v;
}

GgufValue GgufValueBuilder::BorrowedString(std::string_view bytes) {
  GgufValue v;
  v.type_ = GgufType::kString;
  v.bytes_ = bytes;
  return v;
}

GgufValue GgufValueBuilder::BorrowedFixedArray(GgufType element_type, size_t count,
                                               std::string_view bytes) {
  CHECK(GgufTypeSize(element_type) != 0 && bytes.size() == count * GgufTypeSize(element_type));
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = element_type;
  v.count_ = count;
  v.bytes_ = bytes;
  return v;
}

GgufValue GgufValueBuilder::BorrowedStringArray(std::vector<std::string_view> strings) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = GgufType::kString;
  v.count_ = strings.size();
  v.strings_ = std::move(strings);
  return v;
}

GgufValue GgufValueBuilder::NestedArray(std::vector<GgufValue> items) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = GgufType::kArray;
  v.count_ = items.size();
  v.items_ = std::move(items);
  return v;
}

}  // namespace autarky
