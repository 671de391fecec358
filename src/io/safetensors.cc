// SafetensorsFile: bounds-checked parsing of a safetensors header and placement of its tensors.
#include "io/safetensors.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace autarky {
namespace {

struct StDTypeInfo {
  std::string_view name;
  StDType type;
  size_t size;
};

constexpr StDTypeInfo kStDTypes[] = {
    {"BOOL", StDType::kBool, 1}, {"U8", StDType::kU8, 1},          {"I8", StDType::kI8, 1},
    {"I16", StDType::kI16, 2},   {"U16", StDType::kU16, 2},        {"F16", StDType::kF16, 2},
    {"BF16", StDType::kBF16, 2}, {"I32", StDType::kI32, 4},        {"U32", StDType::kU32, 4},
    {"F32", StDType::kF32, 4},   {"F64", StDType::kF64, 8},        {"I64", StDType::kI64, 8},
    {"U64", StDType::kU64, 8},   {"F8_E4M3", StDType::kF8E4M3, 1}, {"F8_E5M2", StDType::kF8E5M2, 1},
};

std::string Quoted(std::string_view s) {
  // Names come from the file: keep messages printable and bounded.
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "'";
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// A JSON integer that fits in uint64 (nlohmann keeps non-negative integers unsigned).
bool AsU64(const nlohmann::json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

class Parser {
 public:
  Parser(std::string_view name, const uint8_t* data, size_t size)
      : name_(name), data_(data), size_(size) {}

  Status Run(std::vector<SafetensorsTensor>* tensors, std::map<std::string, std::string>* meta,
             uint64_t* data_offset) {
    if (size_ < 8) {
      return Fail("file is " + std::to_string(size_) +
                  " bytes, shorter than the 8-byte header "
                  "length");
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | data_[i];
    if (n > kSafetensorsMaxHeaderBytes) {
      return Fail("header length " + std::to_string(n) + " exceeds the limit of " +
                  std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
    }
    if (n > size_ - 8) {
      return Fail("header length " + std::to_string(n) + " runs past the end of the file (" +
                  std::to_string(size_) + " bytes)");
    }
    *data_offset = 8 + n;
    const char* text = reinterpret_cast<const char*>(data_) + 8;
    nlohmann::json header = nlohmann::json::parse(text, text + n, nullptr, false);
    if (header.is_discarded()) return Fail("header is not valid JSON");
    if (!header.is_object()) return Fail("header is not a JSON object");
    const uint64_t data_bytes = size_ - 8 - n;
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") {
        RETURN_IF_ERROR(ReadMetadata(it.value(), meta));
        continue;
      }
      SafetensorsTensor t;
      t.name = it.key();
      RETURN_IF_ERROR(ReadTensor(it.value(), data_bytes, &t));
      t.data = data_ + *data_offset + t.begin;
      tensors->push_back(std::move(t));
    }
    std::sort(tensors->begin(), tensors->end(),
              [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
                return a.begin != b.begin ? a.begin < b.begin : a.n_bytes < b.n_bytes;
              });
    for (size_t i = 1; i < tensors->size(); ++i) {
      const SafetensorsTensor& prev = (*tensors)[i - 1];
      const SafetensorsTensor& cur = (*tensors)[i];
      // Empty tensors occupy no bytes and overlap nothing.
      if (cur.n_bytes > 0 && prev.n_bytes > 0 && prev.begin + prev.n_bytes > cur.begin) {
        return Fail("tensor " + Quoted(cur.name) + ": data_offsets begin " +
                    std::to_string(cur.begin) + " overlaps tensor " + Quoted(prev.name) + " [" +
                    std::to_string(prev.begin) + ", " + std::to_string(prev.begin + prev.n_bytes) +
                    ")");
      }
    }
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& message) const {
    return ErrorStatus(std::string(name_) + ": " + message);
  }

  Status ReadMetadata(const nlohmann::json& j, std::map<std::string, std::string>* meta) {
    if (!j.is_object()) return Fail("__metadata__ is not an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_string()) {
        return Fail("__metadata__ " + Quoted(it.key()) + " is not a string");
      }
      (*meta)[it.key()] = it.value().get<std::string>();
    }
    return Status::Ok();
  }

  Status ReadTensor(const nlohmann::json& j, uint64_t data_bytes, SafetensorsTensor* t) {
    const std::string what = "tensor " + Quoted(t->name);
    if (!j.is_object()) return Fail(what + ": entry is not an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
        return Fail(what + ": unknown field " + Quoted(it.key()));
      }
    }
    auto dtype = j.find("dtype");
    if (dtype == j.end() || !dtype->is_string())
      return Fail(what + ": dtype missing or not a string");
    const std::string& dtype_name = dtype->get_ref<const std::string&>();
    const StDTypeInfo* info = nullptr;
    for (const StDTypeInfo& d : kStDTypes) {
      if (d.name == dtype_name) info = &d;
    }
    if (info == nullptr) return Fail(what + ": dtype " + Quoted(dtype_name) + " is not supported");
    t->dtype = info->type;

    auto shape = j.find("shape");
    if (shape == j.end() || !shape->is_array())
      return Fail(what + ": shape missing or not an array");
    if (shape->size() > static_cast<size_t>(kSafetensorsMaxRank)) {
      return Fail(what + ": shape has " + std::to_string(shape->size()) +
                  " dimensions, more than " + std::to_string(kSafetensorsMaxRank));
    }
    // Element count and byte size, refusing overflow (real counts are bounded by the file size).
    bool has_zero = false;
    for (const nlohmann::json& d : *shape) {
      uint64_t v = 0;
      if (!AsU64(d, &v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(what + ": shape has an entry that is not a non-negative integer");
      }
      t->shape.push_back(static_cast<int64_t>(v));
      has_zero = has_zero || v == 0;
    }
    uint64_t elems = 1;
    if (has_zero) {
      elems = 0;
    } else {
      for (int64_t d : t->shape) {
        const auto v = static_cast<uint64_t>(d);
        if (elems > std::numeric_limits<uint64_t>::max() / 8 / v) {
          return Fail(what + ": shape " + ShapeString(t->shape) + " has too many elements");
        }
        elems *= v;
      }
    }
    auto offsets = j.find("data_offsets");
    uint64_t begin = 0, end = 0;
    if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
        !AsU64((*offsets)[0], &begin) || !AsU64((*offsets)[1], &end)) {
      return Fail(what + ": data_offsets must be two non-negative integers");
    }
    if (end < begin) {
      return Fail(what + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] end before they begin");
    }
    if (end > data_bytes) {
      return Fail(what + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] run past the data section (" + std::to_string(data_bytes) + " bytes)");
    }
    const uint64_t need = elems * info->size;
    if (end - begin != need) {
      return Fail(what + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] hold " + std::to_string(end - begin) + " bytes, shape " +
                  ShapeString(t->shape) + " of " + std::string(info->name) + " needs " +
                  std::to_string(need));
    }
    t->n_elements = static_cast<int64_t>(elems);
    t->begin = begin;
    t->n_bytes = static_cast<size_t>(need);
    return Status::Ok();
  }

  std::string_view name_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace

std::string_view StDTypeName(StDType type) {
  for (const StDTypeInfo& d : kStDTypes) {
    if (d.type == type) return d.name;
  }
  return "?";
}

size_t StDTypeSize(StDType type) {
  for (const StDTypeInfo& d : kStDTypes) {
    if (d.type == type) return d.size;
  }
  return 0;
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path, FileLoad mode) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path, mode));
  auto mapping = std::make_unique<MappedFile>(std::move(mapped));
  ASSIGN_OR_RETURN(SafetensorsFile file, Parse(mapping->data(), mapping->size(), path));
  file.mapping_ = std::move(mapping);  // the tensors keep pointing into the same mapping
  return file;
}

Result<SafetensorsFile> SafetensorsFile::Parse(const uint8_t* data, size_t size,
                                               std::string_view name) {
  SafetensorsFile file;
  file.name_ = std::string(name);
  Parser parser(name, data, data == nullptr ? 0 : size);
  RETURN_IF_ERROR(parser.Run(&file.tensors_, &file.metadata_, &file.data_offset_));
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  return file;
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace autarky
