// GgufFile: bounds-checked parsing of GGUF v2/v3 headers, metadata and tensor infos.
//
// File layout (all little-endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value type | value }
//   n_tensors x { string name | u32 n_dims | n_dims x u64 dim | u32 type id | u64 offset }
//   zero padding to the alignment | tensor data (offsets relative to here, each aligned)
// A string is a u64 byte length and the bytes (no terminator); an array value is a u32
// element type, a u64 count and the elements.
#include "io/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

namespace autarky {
namespace {

// Smallest encodings, used to reject counts the remaining bytes cannot hold before reading.
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;            // key len, 1-byte key, type, u8
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // one dim
constexpr uint64_t kArrayHeaderBytes = 4 + 8;

uint64_t MinEncodedElementBytes(GgufType type) {
  switch (type) {
    case GgufType::kString:
      return 8;
    case GgufType::kArray:
      return kArrayHeaderBytes;
    default:
      return GgufTypeSize(type);
  }
}

// Counts from the file only pre-size containers up to this; beyond it they grow as elements
// are actually read, so a corrupt count in a large file cannot cause a large allocation.
constexpr uint64_t kMaxReserve = uint64_t{1} << 16;
size_t Bounded(uint64_t count) { return static_cast<size_t>(std::min(count, kMaxReserve)); }

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

std::string ShapeString(const std::array<int64_t, kGgufMaxDims>& dims, int n_dims) {
  std::string out = "[";
  for (int i = 0; i < n_dims; ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

std::string TypeDescription(const GgufValue& value) {
  std::string out(GgufTypeName(value.type()));
  if (value.is_array()) out += "[" + std::string(GgufTypeName(value.element_type())) + "]";
  return out;
}

}  // namespace

// Parses one image into a GgufFile; the first problem found ends the parse with an error.
class GgufParser {
 public:
  GgufParser(GgufFile* file) : file_(*file), data_(file->data_), size_(file->size_) {}

  Status Run() {
    RETURN_IF_ERROR(ParseHeader());
    for (uint64_t i = 0; i < n_kv_; ++i) RETURN_IF_ERROR(ParseKeyValue(i));
    RETURN_IF_ERROR(ParseAlignment());
    for (uint64_t i = 0; i < n_tensors_; ++i) RETURN_IF_ERROR(ParseTensorInfo(i));
    return PlaceTensorData();
  }

 private:
  uint64_t remaining() const { return size_ - pos_; }

  // "<name>: byte <at>: <context>[ element i...]: <message>"
  Status Fail(uint64_t at, const std::string& message) const {
    std::string out = file_.name_ + ": byte " + std::to_string(at) + ": " + context_;
    for (uint64_t index : element_path_) out += " element " + std::to_string(index);
    return ErrorStatus(out + ": " + message);
  }

  Status Need(uint64_t bytes, std::string_view field) const {
    if (bytes <= remaining()) return Status::Ok();
    return Fail(pos_, std::string(field) + " (" + std::to_string(bytes) +
                          " bytes) runs past the end of the file (" + std::to_string(size_) +
                          " bytes)");
  }

  template <typename T>
  Status ReadFixed(std::string_view field, T* out) {
    RETURN_IF_ERROR(Need(sizeof(T), field));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string_view field, uint64_t max_bytes, std::string_view* out) {
    const uint64_t at = pos_;
    uint64_t length = 0;
    RETURN_IF_ERROR(ReadFixed(std::string(field) + " length", &length));
    if (length > max_bytes) {
      return Fail(at, std::string(field) + " length " + std::to_string(length) +
                          " exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    }
    RETURN_IF_ERROR(Need(length, field));
    *out = std::string_view(reinterpret_cast<const char*>(data_) + pos_, length);
    pos_ += length;
    return Status::Ok();
  }

  // Refuses a count over its limit or one whose records cannot fit in the bytes left (each
  // needs at least `min_bytes`), before anything is sized by it.
  Status CheckCount(uint64_t at, const std::string& what, uint64_t count, uint64_t min_bytes,
                    uint64_t limit) const {
    if (count > limit) {
      return Fail(at, what + " " + std::to_string(count) + " exceeds the limit of " +
                          std::to_string(limit));
    }
    if (count > remaining() / min_bytes) {
      return Fail(at, what + " " + std::to_string(count) + " cannot fit: each needs at least " +
                          std::to_string(min_bytes) + " bytes and " + std::to_string(remaining()) +
                          " bytes follow");
    }
    return Status::Ok();
  }

  Status ReadTypeId(std::string_view field, GgufType* out) {
    const uint64_t at = pos_;
    uint32_t id = 0;
    RETURN_IF_ERROR(ReadFixed(field, &id));
    if (id >= kGgufTypeCount) {
      return Fail(at, std::string(field) + " id " + std::to_string(id) + " is unknown");
    }
    *out = static_cast<GgufType>(id);
    return Status::Ok();
  }

  Status ParseHeader() {
    context_ = "header";
    uint32_t magic = 0;
    RETURN_IF_ERROR(ReadFixed("magic", &magic));
    if (magic != kGgufMagic) {
      char shown[5] = {};
      std::memcpy(shown, &magic, 4);
      return Fail(0, "magic is " + Quoted(std::string_view(shown, 4)) +
                         ", not 'GGUF': this is not a GGUF file");
    }
    const uint64_t version_at = pos_;
    RETURN_IF_ERROR(ReadFixed("version", &file_.version_));
    const uint32_t version = file_.version_;
    if (version != 2 && version != 3) {
      std::string why;
      if (version == 1) {
        why = "GGUF version 1 (32-bit counts) is not supported; convert the model again";
      } else if (version != 0 && (version & 0xffff) == 0) {
        why = "version " + std::to_string(version) +
              " looks byte-swapped: big-endian GGUF files are not supported";
      } else {
        why = "GGUF version " + std::to_string(version) + " is not supported (2 and 3 are)";
      }
      return Fail(version_at, why);
    }
    const uint64_t n_tensors_at = pos_;
    RETURN_IF_ERROR(ReadFixed("tensor count", &n_tensors_));
    const uint64_t n_kv_at = pos_;
    RETURN_IF_ERROR(ReadFixed("metadata count", &n_kv_));
    RETURN_IF_ERROR(
        CheckCount(n_kv_at, "metadata count", n_kv_, kMinKeyValueBytes, kGgufMaxKeyValues));
    RETURN_IF_ERROR(
        CheckCount(n_tensors_at, "tensor count", n_tensors_, kMinTensorInfoBytes, kGgufMaxTensors));
    file_.metadata_.reserve(Bounded(n_kv_));
    file_.key_index_.reserve(Bounded(n_kv_));
    file_.tensors_.reserve(Bounded(n_tensors_));
    file_.tensor_index_.reserve(Bounded(n_tensors_));
    return Status::Ok();
  }

  Status ParseKeyValue(uint64_t index) {
    const uint64_t at = pos_;
    context_ = "metadata entry " + std::to_string(index);
    std::string_view key;
    RETURN_IF_ERROR(ReadString("key", kGgufMaxKeyBytes, &key));
    if (key.empty()) return Fail(at, "key is empty");
    context_ = "key " + Quoted(key);
    if (auto it = file_.key_index_.find(key); it != file_.key_index_.end()) {
      return Fail(at, "duplicate key (first at byte " +
                          std::to_string(file_.metadata_[it->second].offset) + ")");
    }
    GgufType type;
    RETURN_IF_ERROR(ReadTypeId("value type", &type));
    GgufKeyValue kv{key, GgufValue::U8(0), at};
    RETURN_IF_ERROR(ReadValue(type, 0, &kv.value));
    file_.key_index_.emplace(key, file_.metadata_.size());
    file_.metadata_.push_back(std::move(kv));
    return Status::Ok();
  }

  Status ReadValue(GgufType type, int depth, GgufValue* out) {
    switch (type) {
      case GgufType::kString: {
        std::string_view s;
        RETURN_IF_ERROR(ReadString("string", kGgufMaxStringBytes, &s));
        *out = GgufValueBuilder::BorrowedString(s);
        return Status::Ok();
      }
      case GgufType::kArray:
        return ReadArray(depth, out);
      default: {
        const size_t bytes = GgufTypeSize(type);
        RETURN_IF_ERROR(Need(bytes, std::string(GgufTypeName(type)) + " value"));
        if (type == GgufType::kBool) RETURN_IF_ERROR(CheckBools(1));
        *out = GgufValueBuilder::FixedScalar(type, data_ + pos_);
        pos_ += bytes;
        return Status::Ok();
      }
    }
  }

  Status ReadArray(int depth, GgufValue* out) {
    const uint64_t at = pos_;
    GgufType element_type;
    RETURN_IF_ERROR(ReadTypeId("array element type", &element_type));
    if (element_type == GgufType::kArray && depth + 1 >= kGgufMaxArrayDepth) {
      return Fail(at, "arrays nested more than " + std::to_string(kGgufMaxArrayDepth) +
                          " deep are not supported");
    }
    const uint64_t count_at = pos_;
    uint64_t count = 0;
    RETURN_IF_ERROR(ReadFixed("array length", &count));
    const uint64_t min_bytes = MinEncodedElementBytes(element_type);
    RETURN_IF_ERROR(CheckCount(count_at,
                               "array length (" + std::string(GgufTypeName(element_type)) + ")",
                               count, min_bytes, kGgufMaxArrayElements));
    if (element_type == GgufType::kString) {
      std::vector<std::string_view> strings;
      strings.reserve(Bounded(count));
      element_path_.push_back(0);
      for (uint64_t i = 0; i < count; ++i) {
        element_path_.back() = i;
        std::string_view s;
        RETURN_IF_ERROR(ReadString("string", kGgufMaxStringBytes, &s));
        strings.push_back(s);
      }
      element_path_.pop_back();
      *out = GgufValueBuilder::BorrowedStringArray(std::move(strings));
      return Status::Ok();
    }
    if (element_type == GgufType::kArray) {
      if (count > kGgufMaxNestedArrayElements - nested_elements_) {
        return Fail(count_at, "more than " + std::to_string(kGgufMaxNestedArrayElements) +
                                  " elements in arrays of arrays");
      }
      nested_elements_ += count;
      std::vector<GgufValue> items;
      items.reserve(Bounded(count));
      element_path_.push_back(0);
      for (uint64_t i = 0; i < count; ++i) {
        element_path_.back() = i;
        GgufValue item = GgufValue::U8(0);
        RETURN_IF_ERROR(ReadArray(depth + 1, &item));
        items.push_back(std::move(item));
      }
      element_path_.pop_back();
      *out = GgufValueBuilder::NestedArray(std::move(items));
      return Status::Ok();
    }
    const uint64_t bytes = count * min_bytes;  // no overflow: <= remaining()
    if (element_type == GgufType::kBool) RETURN_IF_ERROR(CheckBools(count));
    *out = GgufValueBuilder::BorrowedFixedArray(
        element_type, count, std::string_view(reinterpret_cast<const char*>(data_) + pos_, bytes));
    pos_ += bytes;
    return Status::Ok();
  }

  // The spec allows only 0 and 1; other bytes would not survive a rewrite unchanged.
  Status CheckBools(uint64_t count) const {
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t b = data_[pos_ + i];
      if (b > 1) {
        return Fail(pos_ + i, "bool value " + std::to_string(b) + " is neither 0 nor 1");
      }
    }
    return Status::Ok();
  }

  Status ParseAlignment() {
    auto it = file_.key_index_.find(kGgufAlignmentKey);
    if (it == file_.key_index_.end()) return Status::Ok();
    const GgufKeyValue& kv = file_.metadata_[it->second];
    context_ = "key " + Quoted(kv.key);
    if (kv.value.type() != GgufType::kU32) {
      return Fail(kv.offset, "has type " + TypeDescription(kv.value) + ", must be u32");
    }
    const uint32_t alignment = kv.value.Get<uint32_t>();
    if (alignment == 0 || !std::has_single_bit(alignment) || alignment > kGgufMaxAlignment) {
      return Fail(kv.offset, "alignment " + std::to_string(alignment) +
                                 " is not a power of two between 1 and " +
                                 std::to_string(kGgufMaxAlignment));
    }
    file_.alignment_ = alignment;
    return Status::Ok();
  }

  Status ParseTensorInfo(uint64_t index) {
    GgufTensorInfo info;
    info.info_offset = pos_;
    context_ = "tensor info " + std::to_string(index);
    RETURN_IF_ERROR(ReadString("tensor name", kGgufReaderMaxTensorNameBytes, &info.name));
    if (info.name.empty()) return Fail(info.info_offset, "tensor name is empty");
    context_ = "tensor " + Quoted(info.name);
    if (auto it = file_.tensor_index_.find(info.name); it != file_.tensor_index_.end()) {
      return Fail(info.info_offset, "duplicate tensor name (first at byte " +
                                        std::to_string(file_.tensors_[it->second].info_offset) +
                                        ")");
    }
    const uint64_t n_dims_at = pos_;
    uint32_t n_dims = 0;
    RETURN_IF_ERROR(ReadFixed("dimension count", &n_dims));
    if (n_dims < 1 || n_dims > kGgufMaxDims) {
      return Fail(n_dims_at, "dimension count " + std::to_string(n_dims) +
                                 " is not between 1 and " + std::to_string(kGgufMaxDims));
    }
    info.n_dims = static_cast<int>(n_dims);
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = pos_;
      uint64_t dim = 0;
      RETURN_IF_ERROR(ReadFixed("dimension", &dim));
      // ggml accepts empty (zero-sized) tensors; no model weight is empty, and refusing them
      // spares every consumer a division by zero.
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(dim_at, "dimension " + std::to_string(d) + " is " + std::to_string(dim) +
                                (dim == 0 ? " (empty tensors are not supported)"
                                          : " (more than INT64_MAX)"));
      }
      info.dims[d] = static_cast<int64_t>(dim);
      if (__builtin_mul_overflow(n_elements, info.dims[d], &n_elements)) {
        return Fail(dim_at, "shape " + ShapeString(info.dims, static_cast<int>(d + 1)) +
                                " has more than INT64_MAX elements");
      }
    }
    info.n_elements = n_elements;
    const uint64_t type_at = pos_;
    uint32_t type_id = 0;
    RETURN_IF_ERROR(ReadFixed("type id", &type_id));
    const std::optional<DType> type = DTypeFromId(type_id);
    if (!type) return Fail(type_at, "type id " + std::to_string(type_id) + " is unknown");
    info.type = *type;
    const DTypeTraits& traits = Traits(info.type);
    if (info.dims[0] % traits.block_elems != 0) {
      return Fail(type_at, "rows of " + std::to_string(info.dims[0]) + " elements are not a " +
                               "multiple of the " + std::string(traits.name) + " block size " +
                               std::to_string(traits.block_elems));
    }
    const std::optional<size_t> n_bytes = RowBytes(info.type, info.n_elements);
    if (!n_bytes) {
      return Fail(type_at, "shape " + ShapeString(info.dims, info.n_dims) + " of type " +
                               std::string(traits.name) + " has too many bytes");
    }
    info.n_bytes = *n_bytes;
    const uint64_t offset_at = pos_;
    RETURN_IF_ERROR(ReadFixed("data offset", &info.offset));
    if (info.offset % file_.alignment_ != 0) {
      return Fail(offset_at, "data offset " + std::to_string(info.offset) +
                                 " is not a multiple of the alignment " +
                                 std::to_string(file_.alignment_));
    }
    offset_field_at_.push_back(offset_at);
    file_.tensor_index_.emplace(info.name, file_.tensors_.size());
    file_.tensors_.push_back(info);
    return Status::Ok();
  }

  // Checks every tensor's data lies inside the file without overlapping another's.
  Status PlaceTensorData() {
    file_.metadata_end_ = pos_;
    // pos_ <= size_ and the alignment is at most 2^24: no overflow.
    const uint64_t align = file_.alignment_;
    file_.data_offset_ = (pos_ + align - 1) / align * align;
    std::vector<GgufTensorInfo>& tensors = file_.tensors_;
    for (size_t i = 0; i < tensors.size(); ++i) {
      GgufTensorInfo& t = tensors[i];
      context_ = "tensor " + Quoted(t.name);
      const uint64_t data_offset = file_.data_offset_;
      if (data_offset > size_ || t.offset > size_ - data_offset ||
          t.n_bytes > size_ - data_offset - t.offset) {
        return Fail(offset_field_at_[i], "data at offset " + std::to_string(t.offset) + " (+" +
                                             std::to_string(data_offset) + " in the file), " +
                                             std::to_string(t.n_bytes) +
                                             " bytes, runs past the end of the file (" +
                                             std::to_string(size_) + " bytes)");
      }
      t.file_offset = data_offset + t.offset;
      t.data = data_ + t.file_offset;
    }
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      const GgufTensorInfo& prev = tensors[order[i - 1]];
      const GgufTensorInfo& cur = tensors[order[i]];
      if (prev.offset + prev.n_bytes > cur.offset) {  // both inside the file: no overflow
        context_ = "tensor " + Quoted(cur.name);
        return Fail(offset_field_at_[order[i]],
                    "data at offset " + std::to_string(cur.offset) + " overlaps tensor " +
                        Quoted(prev.name) + " (offset " + std::to_string(prev.offset) + ", " +
                        std::to_string(prev.n_bytes) + " bytes)");
      }
    }
    return Status::Ok();
  }

  GgufFile& file_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t n_kv_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t nested_elements_ = 0;
  std::string context_;
  std::vector<uint64_t> element_path_;     // indices into the arrays being read, for messages
  std::vector<uint64_t> offset_field_at_;  // per tensor: where its offset field is
};

Result<GgufFile> GgufFile::Open(const std::string& path, FileLoad mode) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path, mode));
  auto mapping = std::make_unique<MappedFile>(std::move(mapped));
  ASSIGN_OR_RETURN(GgufFile file, Parse(mapping->data(), mapping->size(), path));
  file.mapping_ = std::move(mapping);  // the views keep pointing at the same mapping
  return file;
}

Result<GgufFile> GgufFile::Parse(const uint8_t* data, size_t size, std::string_view name) {
  GgufFile file;
  file.name_ = std::string(name);
  file.data_ = data;
  file.size_ = data == nullptr ? 0 : size;
  GgufParser parser(&file);
  RETURN_IF_ERROR(parser.Run());
  return file;
}

Result<GgufFile> GgufFile::FromImage(std::vector<uint8_t> image, std::string_view name) {
  ASSIGN_OR_RETURN(GgufFile file, Parse(image.data(), image.size(), name));
  file.owned_image_ = std::move(image);  // same heap buffer: the views stay valid
  return file;
}

Result<GgufFile> GgufFile::Assemble(std::string name, std::vector<uint8_t> metadata_image,
                                     std::vector<GgufExternalTensor> tensors,
                                     std::shared_ptr<const void> owner) {
  ASSIGN_OR_RETURN(GgufFile file, Parse(metadata_image.data(), metadata_image.size(), name));
  if (!file.tensors_.empty()) {
    return ErrorStatus(name + ": the metadata image of an assembled model has tensors");
  }
  file.owned_image_ = std::move(metadata_image);  // same heap buffer: the views stay valid
  file.owner_ = std::move(owner);
  size_t name_bytes = 0;
  for (const GgufExternalTensor& t : tensors) name_bytes += t.name.size();
  file.owned_names_.reserve(name_bytes);  // never reallocated below: views stay valid
  file.tensors_.reserve(tensors.size());
  for (GgufExternalTensor& t : tensors) {
    const std::string what = name + ": tensor " + Quoted(t.name) + ": ";
    if (t.name.empty() || t.name.size() > kGgufReaderMaxTensorNameBytes) {
      return ErrorStatus(what + "name length " + std::to_string(t.name.size()) + " is invalid");
    }
    GgufTensorInfo info;
    const size_t at = file.owned_names_.size();
    file.owned_names_.insert(file.owned_names_.end(), t.name.begin(), t.name.end());
    info.name = std::string_view(file.owned_names_.data() + at, t.name.size());
    if (file.tensor_index_.count(info.name) != 0) return ErrorStatus(what + "duplicate name");
    if (t.dims.empty() || t.dims.size() > static_cast<size_t>(kGgufMaxDims)) {
      return ErrorStatus(what + std::to_string(t.dims.size()) + " dimensions");
    }
    info.n_dims = static_cast<int>(t.dims.size());
    int64_t n_elements = 1;
    for (size_t d = 0; d < t.dims.size(); ++d) {
      if (t.dims[d] < 1 || __builtin_mul_overflow(n_elements, t.dims[d], &n_elements)) {
        return ErrorStatus(what + "invalid shape");
      }
      info.dims[d] = t.dims[d];
    }
    info.n_elements = n_elements;
    info.type = t.type;
    const DTypeTraits& traits = Traits(t.type);
    const std::optional<size_t> n_bytes = RowBytes(t.type, n_elements);
    if (info.dims[0] % traits.block_elems != 0 || !n_bytes || *n_bytes != t.n_bytes ||
        (t.data == nullptr && !t.fill)) {
      return ErrorStatus(what + "shape " + ShapeString(info.dims, info.n_dims) + " of " +
                         std::string(traits.name) + " does not match its " +
                         std::to_string(t.n_bytes) + " bytes");
    }
    info.n_bytes = t.n_bytes;
    info.data = t.data;
    file.tensor_index_.emplace(info.name, file.tensors_.size());
    file.tensors_.push_back(info);
    file.fills_.push_back(t.data == nullptr ? std::move(t.fill) : GgufTensorFill());
    if (t.data == nullptr) ++file.n_lazy_;
  }
  return file;
}

Status GgufFile::ReadTensorData(const GgufTensorInfo& t, uint8_t* dst) const {
  if (t.data != nullptr) {
    std::memcpy(dst, t.data, t.n_bytes);
    return Status::Ok();
  }
  const size_t index = static_cast<size_t>(&t - tensors_.data());
  CHECK_MSG(index < fills_.size() && fills_[index], "a tensor without data or fill function");
  return fills_[index](dst);
}

Result<std::span<const uint8_t>> GgufFile::TensorBytes(const GgufTensorInfo& t,
                                                       std::vector<uint8_t>* scratch) const {
  if (t.data != nullptr) return std::span<const uint8_t>(t.data, t.n_bytes);
  scratch->resize(t.n_bytes);
  RETURN_IF_ERROR(ReadTensorData(t, scratch->data()));
  return std::span<const uint8_t>(scratch->data(), t.n_bytes);
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

Result<const GgufValue*> GgufFile::Lookup(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) {
    return ErrorStatus(name_ + ": metadata key " + Quoted(key) + " is missing");
  }
  return value;
}

Status GgufFile::TypeError(std::string_view key, const GgufValue& value,
                           std::string_view expected) const {
  return ErrorStatus(name_ + ": metadata key " + Quoted(key) + " has type " +
                     TypeDescription(value) + ", expected " + std::string(expected));
}

Status GgufFile::RangeError(std::string_view key, const GgufValue& value) const {
  std::string shown;
  if (auto s = value.AsInteger<int64_t>()) {
    shown = std::to_string(*s);
  } else if (auto u = value.AsInteger<uint64_t>()) {
    shown = std::to_string(*u);
  }
  return ErrorStatus(name_ + ": metadata key " + Quoted(key) + " (" +
                     std::string(GgufTypeName(value.type())) + ") has value " + shown +
                     ", out of range here");
}

#define AUTARKY_GGUF_GETTER(Name, T)                                     \
  Result<T> GgufFile::Name(std::string_view key) const {                 \
    ASSIGN_OR_RETURN(const GgufValue* value, Lookup(key));               \
    if (value->type() != GgufTypeOf<T>::value) {                         \
      return TypeError(key, *value, GgufTypeName(GgufTypeOf<T>::value)); \
    }                                                                    \
    return value->Get<T>();                                              \
  }
AUTARKY_GGUF_GETTER(GetU8, uint8_t)
AUTARKY_GGUF_GETTER(GetI8, int8_t)
AUTARKY_GGUF_GETTER(GetU16, uint16_t)
AUTARKY_GGUF_GETTER(GetI16, int16_t)
AUTARKY_GGUF_GETTER(GetU32, uint32_t)
AUTARKY_GGUF_GETTER(GetI32, int32_t)
AUTARKY_GGUF_GETTER(GetU64, uint64_t)
AUTARKY_GGUF_GETTER(GetI64, int64_t)
AUTARKY_GGUF_GETTER(GetF32, float)
AUTARKY_GGUF_GETTER(GetF64, double)
AUTARKY_GGUF_GETTER(GetBool, bool)
#undef AUTARKY_GGUF_GETTER

Result<std::string_view> GgufFile::GetString(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, Lookup(key));
  if (value->type() != GgufType::kString) return TypeError(key, *value, "str");
  return value->str();
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, Lookup(key));
  const std::optional<double> out = value->AsFloat();
  if (!out) return TypeError(key, *value, "f32 or f64");
  return *out;
}

Result<const GgufValue*> GgufFile::GetArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, Lookup(key));
  if (!value->is_array()) return TypeError(key, *value, "an array");
  return value;
}

Result<const GgufValue*> GgufFile::GetArray(std::string_view key, GgufType element_type) const {
  ASSIGN_OR_RETURN(const GgufValue* value, Lookup(key));
  if (!value->is_array() || value->element_type() != element_type) {
    return TypeError(key, *value, "arr[" + std::string(GgufTypeName(element_type)) + "]");
  }
  return value;
}

Result<std::span<const std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, GetArray(key, GgufType::kString));
  return value->strings();
}

Result<std::vector<float>> GgufFile::GetF32Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, GetArray(key, GgufType::kF32));
  return value->ToVector<float>();
}

Result<std::vector<int32_t>> GgufFile::GetI32Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, GetArray(key, GgufType::kI32));
  return value->ToVector<int32_t>();
}

Result<std::vector<int64_t>> GgufFile::GetIntegerArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, GetArray(key));
  const GgufType type = value->element_type();
  if (!GgufTypeIsInteger(type)) return TypeError(key, *value, "an array of integers");
  std::vector<int64_t> out(value->size());
  const std::string_view bytes = value->raw_bytes();
  const size_t width = GgufTypeSize(type);
  for (size_t i = 0; i < out.size(); ++i) {
    const GgufValue element = GgufValueBuilder::FixedScalar(
        type, reinterpret_cast<const uint8_t*>(bytes.data()) + i * width);
    const std::optional<int64_t> v = element.AsInteger<int64_t>();
    if (!v) {
      return ErrorStatus(name_ + ": metadata key " + Quoted(key) + ": element " +
                         std::to_string(i) + " exceeds INT64_MAX");
    }
    out[i] = *v;
  }
  return out;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<const GgufTensorInfo*> GgufFile::GetTensor(std::string_view name) const {
  const GgufTensorInfo* info = FindTensor(name);
  if (info == nullptr) return ErrorStatus(name_ + ": tensor " + Quoted(name) + " is missing");
  return info;
}

}  // namespace autarky
