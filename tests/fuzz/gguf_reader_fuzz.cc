// libFuzzer target: GgufFile::Parse on arbitrary bytes must return an error or a file whose
// every accessor works, and whose rewrite by GgufWriter parses back to the same contents.
//
// With GGUF_FUZZ_SEED_DIR set, the binary instead writes seed files there and exits: small
// files made with GgufWriter (every value type, nested arrays, every tensor type) and, when
// GGUF_FUZZ_SHARED_DIR is set too, miniatures of its .gguf files (the same metadata with arrays
// cut to 8 elements, the same tensor names and types with one block each) — real structure
// at a size the fuzzer can mutate quickly. scripts/run-fuzz does this.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"

namespace autarky {
namespace {

// A failed property: crash so that libFuzzer records the input.
#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "gguf_reader_fuzz: property failed: %s\n", #cond); \
      __builtin_trap();                                                       \
    }                                                                         \
  } while (0)

// Reads every part of a value through its accessors; returns a checksum so nothing is elided.
uint64_t Touch(const GgufValue& v) {
  uint64_t sum = v.EncodedSize();
  if (!v.is_array()) {
    if (v.type() == GgufType::kString) return sum + v.str().size();
    if (auto i = v.AsInteger<int64_t>()) sum += static_cast<uint64_t>(*i);
    if (auto u = v.AsInteger<uint32_t>()) sum += *u;
    if (auto f = v.AsFloat()) sum += *f > 0;
    return sum;
  }
  sum += v.size();
  switch (v.element_type()) {
    case GgufType::kString:
      for (std::string_view s : v.strings()) sum += s.empty() ? 0 : static_cast<uint8_t>(s.back());
      break;
    case GgufType::kArray:
      for (const GgufValue& item : v.items()) sum += Touch(item);
      break;
    case GgufType::kF32:
      for (float f : v.ToVector<float>()) sum += f > 0;
      break;
    case GgufType::kBool:
      for (bool b : v.ToVector<bool>()) sum += b;
      break;
    default: {
      const std::string_view bytes = v.raw_bytes();
      FUZZ_CHECK(bytes.size() == v.size() * GgufTypeSize(v.element_type()));
      if (!bytes.empty()) sum += static_cast<uint8_t>(bytes.back());
    }
  }
  return sum;
}

// Calls the typed getter matching each entry's type, and the others, which must fail cleanly.
uint64_t ExerciseGetters(const GgufFile& file, const GgufKeyValue& kv) {
  uint64_t sum = 0;
  const std::string_view k = kv.key;
  FUZZ_CHECK(file.Find(k) == &kv.value);
  const GgufType type = kv.value.type();
  FUZZ_CHECK(file.GetU32(k).ok() == (type == GgufType::kU32));
  FUZZ_CHECK(file.GetI32(k).ok() == (type == GgufType::kI32));
  FUZZ_CHECK(file.GetU64(k).ok() == (type == GgufType::kU64));
  FUZZ_CHECK(file.GetF32(k).ok() == (type == GgufType::kF32));
  FUZZ_CHECK(file.GetBool(k).ok() == (type == GgufType::kBool));
  FUZZ_CHECK(file.GetString(k).ok() == (type == GgufType::kString));
  sum += file.GetU8(k).ok() + file.GetI8(k).ok() + file.GetU16(k).ok() + file.GetI16(k).ok() +
         file.GetI64(k).ok() + file.GetF64(k).ok() + file.GetFloat(k).ok();
  if (auto v = file.GetInteger<int32_t>(k); v.ok()) sum += static_cast<uint32_t>(*v);
  if (auto v = file.GetInteger<uint64_t>(k); v.ok()) sum += *v;
  FUZZ_CHECK(file.GetArray(k).ok() == kv.value.is_array());
  if (kv.value.is_array()) {
    if (auto s = file.GetStringArray(k); s.ok()) sum += s->size();
    if (auto f = file.GetF32Array(k); f.ok()) sum += f->size();
    if (auto i = file.GetI32Array(k); i.ok()) sum += i->size();
    if (auto i = file.GetIntegerArray(k); i.ok()) sum += i->size();
  }
  // An owned copy is equal and independent of the input.
  FUZZ_CHECK(kv.value.Owned() == kv.value);
  return sum + Touch(kv.value);
}

// Writes the file back with GgufWriter and checks the copy reads back the same.
void CheckRewrite(const GgufFile& file) {
  GgufWriter writer;
  writer.CopyMetadataFrom(file);
  const bool pad = file.file_size() > file.metadata_end();
  writer.set_pad_without_tensors(pad);
  for (const GgufTensorInfo& t : file.tensors()) {
    // The writer refuses names llama.cpp cannot load (the reader accepts longer ones).
    if (!writer.AddTensor(t.name, t.type, t.shape()).ok()) return;
  }
  if (!writer.BeginInMemory().ok()) return;  // e.g. a value over a writer-only limit
  for (const GgufTensorInfo& t : file.tensors()) {
    FUZZ_CHECK(writer.WriteTensor(t.name, t.data, t.n_bytes).ok());
  }
  FUZZ_CHECK(writer.Finish().ok());
  const std::vector<uint8_t> bytes = writer.TakeBuffer();
  Result<GgufFile> copy = GgufFile::Parse(bytes.data(), bytes.size(), "rewrite");
  if (!copy.ok()) {
    std::fprintf(stderr, "rewrite does not parse: %s\n", copy.status().message().c_str());
  }
  FUZZ_CHECK(copy.ok());
  FUZZ_CHECK(copy->version() == file.version());
  FUZZ_CHECK(copy->metadata().size() == file.metadata().size());
  for (size_t i = 0; i < file.metadata().size(); ++i) {
    FUZZ_CHECK(copy->metadata()[i].key == file.metadata()[i].key);
    FUZZ_CHECK(copy->metadata()[i].value == file.metadata()[i].value);
  }
  FUZZ_CHECK(copy->tensors().size() == file.tensors().size());
  bool contiguous = true;  // laid out as the writer would: then the bytes must match too
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const GgufTensorInfo& a = file.tensors()[i];
    const GgufTensorInfo& b = copy->tensors()[i];
    FUZZ_CHECK(a.name == b.name && a.type == b.type && a.n_dims == b.n_dims && a.dims == b.dims);
    FUZZ_CHECK(a.n_bytes == b.n_bytes && std::memcmp(a.data, b.data, a.n_bytes) == 0);
    contiguous = contiguous && a.offset == expected_offset;
    expected_offset =
        a.offset + (a.n_bytes + file.alignment() - 1) / file.alignment() * file.alignment();
  }
  if (contiguous) {
    // Everything up to the end of the data is determined by the contents; only the zero
    // padding may differ (the input's padding bytes are not checked by the reader).
    for (size_t i = 0; i < file.metadata_end(); ++i) FUZZ_CHECK(bytes[i] == file.file_data()[i]);
  }
}

void Exercise(const uint8_t* data, size_t size) {
  Result<GgufFile> parsed = GgufFile::Parse(data, size, "fuzz");
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().message().rfind("fuzz: byte ", 0) == 0);
    return;
  }
  const GgufFile& file = *parsed;
  FUZZ_CHECK(file.version() == 2 || file.version() == 3);
  FUZZ_CHECK(file.metadata_end() <= size && file.data_offset() >= file.metadata_end());
  FUZZ_CHECK(file.data_offset() % file.alignment() == 0);
  volatile uint64_t sink = 0;
  for (const GgufKeyValue& kv : file.metadata()) sink = sink + ExerciseGetters(file, kv);
  FUZZ_CHECK(file.Find("") == nullptr);
  for (const GgufTensorInfo& t : file.tensors()) {
    FUZZ_CHECK(file.FindTensor(t.name) == &t);
    FUZZ_CHECK(t.n_dims >= 1 && t.n_dims <= kGgufMaxDims && t.n_bytes > 0);
    FUZZ_CHECK(t.data >= data && t.data + t.n_bytes <= data + size);
    FUZZ_CHECK(t.file_offset % file.alignment() == 0);
    FUZZ_CHECK(RowBytes(t.type, t.n_elements) == t.n_bytes);
    sink = sink + t.data[0] + t.data[t.n_bytes - 1] + static_cast<uint64_t>(t.n_rows());
  }
  CheckRewrite(file);
}

// ---- seed generation ----

void Save(const std::filesystem::path& dir, const std::string& name, GgufWriter& writer,
          const std::vector<std::vector<uint8_t>>& data) {
  if (!writer.BeginInMemory().ok()) return;
  for (size_t i = 0; i < data.size(); ++i) {
    if (!writer.AppendTensorData(data[i]).ok()) return;
  }
  if (!writer.Finish().ok()) return;
  const std::vector<uint8_t> bytes = writer.TakeBuffer();
  FILE* f = std::fopen((dir / name).c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

std::vector<uint8_t> Filler(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 37 + 11);
  return out;
}

void WriteSyntheticSeeds(const std::filesystem::path& dir) {
  {
    GgufWriter w;
    w.Set("general.architecture", GgufValue::String("llama"));
    w.Set("u8", GgufValue::U8(1));
    w.Set("i8", GgufValue::I8(-1));
    w.Set("u16", GgufValue::U16(2));
    w.Set("i16", GgufValue::I16(-2));
    w.Set("llama.block_count", GgufValue::U32(2));
    w.Set("i32", GgufValue::I32(-3));
    w.Set("f32", GgufValue::F32(1e-5f));
    w.Set("bool", GgufValue::Bool(true));
    w.Set("u64", GgufValue::U64(1ull << 40));
    w.Set("i64", GgufValue::I64(-(1ll << 40)));
    w.Set("f64", GgufValue::F64(0.5));
    w.Set("tokens", GgufValue::StringArray(std::vector<std::string>{"<s>", "a", "bc"}));
    w.Set("scores", GgufValue::Array(std::vector<float>{0.f, -1.f, 2.f}));
    w.Set("types", GgufValue::Array(std::vector<int32_t>{1, 2, 3}));
    w.Set("flags", GgufValue::BoolArray({true, false}));
    w.Set("nested", GgufValue::ArrayOfArrays(
                        {GgufValue::Array(std::vector<uint16_t>{1, 2}),
                         GgufValue::StringArray(std::vector<std::string>{"x"}),
                         GgufValue::ArrayOfArrays({GgufValue::Array(std::vector<uint8_t>{})})}));
    Save(dir, "synthetic-metadata.gguf", w, {});
  }
  {
    // One tensor of every type, one block per row and two rows.
    GgufWriter w;
    w.Set("general.alignment", GgufValue::U32(64));
    size_t n_types = 0;
    const DType* types = AllDTypes(&n_types);
    std::vector<std::vector<uint8_t>> data;
    for (size_t i = 0; i < n_types; ++i) {
      const DTypeTraits& t = Traits(types[i]);
      if (!w.AddTensor("t." + std::string(t.name), types[i], {t.block_elems, 2}).ok()) return;
      data.push_back(Filler(2 * t.block_bytes));
    }
    Save(dir, "synthetic-tensors.gguf", w, data);
  }
  {
    GgufWriter w;
    w.SetVersion(2);
    w.Set("general.name", GgufValue::String("v2"));
    if (!w.AddTensor("a", DType::kF16, {3, 1, 2, 2}).ok()) return;
    if (!w.AddTensor("b", DType::kQ4_K, {256}).ok()) return;
    Save(dir, "synthetic-v2.gguf", w, {Filler(24), Filler(144)});
  }
}

// The same metadata with arrays cut to their first 8 elements, and each tensor's shape cut to
// one block, so the seed keeps the real structure at a few kilobytes.
GgufValue Shortened(const GgufValue& v) {
  constexpr size_t kKeep = 8;
  if (!v.is_array() || v.size() <= kKeep) return v;
  switch (v.element_type()) {
    case GgufType::kString:
      return GgufValue::StringArray(v.strings().subspan(0, kKeep));
    case GgufType::kArray: {
      std::vector<GgufValue> items;
      for (size_t i = 0; i < kKeep; ++i) items.push_back(Shortened(v.items()[i]));
      return GgufValue::ArrayOfArrays(std::move(items));
    }
    default:
      return GgufValue::RawArray(v.element_type(),
                                 v.raw_bytes().substr(0, kKeep * GgufTypeSize(v.element_type())));
  }
}

void WriteMiniatures(const std::filesystem::path& dir, const std::filesystem::path& shared) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(shared, ec)) {
    if (entry.path().extension() != ".gguf") continue;
    Result<GgufFile> file = GgufFile::Open(entry.path().string());
    if (!file.ok()) continue;
    GgufWriter w;
    w.SetVersion(file->version());
    for (const GgufKeyValue& kv : file->metadata()) w.Set(kv.key, Shortened(kv.value));
    std::vector<std::vector<uint8_t>> data;
    for (const GgufTensorInfo& t : file->tensors()) {
      const DTypeTraits& traits = Traits(t.type);
      if (!w.AddTensor(t.name, t.type, {traits.block_elems}).ok()) break;
      data.emplace_back(t.data, t.data + traits.block_bytes);
    }
    if (data.size() != file->tensors().size()) continue;
    Save(dir, "mini-" + entry.path().filename().string(), w, data);
  }
}

}  // namespace
}  // namespace autarky

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* seed_dir = std::getenv("GGUF_FUZZ_SEED_DIR");
  if (seed_dir == nullptr || *seed_dir == '\0') return 0;
  std::filesystem::create_directories(seed_dir);
  autarky::WriteSyntheticSeeds(seed_dir);
  if (const char* shared = std::getenv("GGUF_FUZZ_SHARED_DIR"); shared != nullptr && *shared) {
    autarky::WriteMiniatures(seed_dir, shared);
  }
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  autarky::Exercise(data, size);
  return 0;
}
