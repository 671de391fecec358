// `autarky info MODEL [--json]`: prints the metadata, tensor table and totals of a GGUF file, a
// Hugging Face folder (as the GGUF it loads as) or a cached REF/alias.
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "hub/pull.h"
#include "io/gguf_reader.h"
#include "io/hf_folder.h"

namespace autarky::cli {
namespace {

using Json = nlohmann::ordered_json;  // keeps the file's key order

// Arrays up to this many elements are printed in full; longer ones show their first elements.
constexpr size_t kTextFullArray = 16;
constexpr size_t kTextArrayHead = 6;
constexpr size_t kJsonFullArray = 64;
constexpr size_t kJsonArrayHead = 16;
// Strings longer than this (chat templates) are cut in the text output, never in JSON.
constexpr size_t kTextMaxString = 160;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// The bytes of `s` (at most `max_bytes` of them) with control bytes, quotes, backslashes and
// invalid UTF-8 escaped; "..." marks a cut.
std::string Escaped(std::string_view s, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  for (; i < s.size() && i < max_bytes;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (const size_t n = c >= 0x80 ? Utf8SequenceLength(s, i) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    ++i;
  }
  if (i < s.size()) out += "...";
  return out;
}

// A string as a double-quoted literal; a cut one is followed by its length.
std::string QuoteText(std::string_view s, size_t max_bytes) {
  std::string out = "\"" + Escaped(s, max_bytes) + "\"";
  if (s.size() > max_bytes) out += " (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Shortest text that reads back as the same float / double.
template <typename F>
std::string FloatText(F v) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

std::string ScalarText(const GgufValue& v) {
  switch (v.type()) {
    case GgufType::kU8:
      return std::to_string(v.Get<uint8_t>());
    case GgufType::kI8:
      return std::to_string(v.Get<int8_t>());
    case GgufType::kU16:
      return std::to_string(v.Get<uint16_t>());
    case GgufType::kI16:
      return std::to_string(v.Get<int16_t>());
    case GgufType::kU32:
      return std::to_string(v.Get<uint32_t>());
    case GgufType::kI32:
      return std::to_string(v.Get<int32_t>());
    case GgufType::kU64:
      return std::to_string(v.Get<uint64_t>());
    case GgufType::kI64:
      return std::to_string(v.Get<int64_t>());
    case GgufType::kF32:
      return FloatText(v.Get<float>());
    case GgufType::kF64:
      return FloatText(v.Get<double>());
    case GgufType::kBool:
      return v.Get<bool>() ? "true" : "false";
    case GgufType::kString:
      return QuoteText(v.str(), kTextMaxString);
    default:
      return "?";
  }
}

// Element i of a fixed-size array as a scalar value.
GgufValue ElementAt(const GgufValue& array, size_t i) {
  const size_t width = GgufTypeSize(array.element_type());
  return GgufValueBuilder::FixedScalar(
      array.element_type(), reinterpret_cast<const uint8_t*>(array.raw_bytes().data()) + i * width);
}

// "[u32 x 3] 1, 2, 3" with long arrays cut after their first elements.
std::string ValueText(const GgufValue& v) {
  if (!v.is_array()) return ScalarText(v);
  const size_t n = v.size();
  std::string out =
      "[" + std::string(GgufTypeName(v.element_type())) + " x " + std::to_string(n) + "]";
  const size_t shown = n <= kTextFullArray ? n : kTextArrayHead;
  for (size_t i = 0; i < shown; ++i) {
    out += i == 0 ? " " : ", ";
    switch (v.element_type()) {
      case GgufType::kString:
        out += QuoteText(v.strings()[i], kTextMaxString);
        break;
      case GgufType::kArray:
        out += "(" + ValueText(v.items()[i]) + ")";
        break;
      default:
        out += ScalarText(ElementAt(v, i));
    }
  }
  if (shown < n) out += ", ...";
  return out;
}

Json ScalarJson(const GgufValue& v) {
  switch (v.type()) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64:
      return *v.AsInteger<uint64_t>();
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      return *v.AsInteger<int64_t>();
    // The shortest decimal form of the f32, so 1e-5f prints as 1e-05, not 9.99999974e-06.
    case GgufType::kF32:
      return std::stod(FloatText(v.Get<float>()));
    case GgufType::kF64:
      return v.Get<double>();
    case GgufType::kBool:
      return v.Get<bool>();
    case GgufType::kString:
      return std::string(v.str());
    default:
      return nullptr;
  }
}

Json ValueJson(const GgufValue& v);

// Elements [0, n) of an array as a JSON array.
Json ElementsJson(const GgufValue& v, size_t n) {
  Json out = Json::array();
  for (size_t i = 0; i < n; ++i) {
    switch (v.element_type()) {
      case GgufType::kString:
        out.push_back(std::string(v.strings()[i]));
        break;
      case GgufType::kArray:
        out.push_back(ValueJson(v.items()[i]));
        break;
      default:
        out.push_back(ScalarJson(ElementAt(v, i)));
    }
  }
  return out;
}

// {"type": "u32", "value": 4}; arrays: {"type": "arr", "element_type": "str", "count": n,
// "value": [...]} in full up to kJsonFullArray elements, else "head": [first elements].
Json ValueJson(const GgufValue& v) {
  Json out;
  out["type"] = std::string(GgufTypeName(v.type()));
  if (!v.is_array()) {
    Json value = ScalarJson(v);
    out["value"] = std::move(value);
    return out;
  }
  out["element_type"] = std::string(GgufTypeName(v.element_type()));
  out["count"] = v.size();
  if (v.size() <= kJsonFullArray) {
    out["value"] = ElementsJson(v, v.size());
  } else {
    out["head"] = ElementsJson(v, kJsonArrayHead);
  }
  return out;
}

std::string ShapeText(const GgufTensorInfo& t) {
  std::string out = "[";
  for (int i = 0; i < t.n_dims; ++i) out += (i ? ", " : "") + std::to_string(t.dims[i]);
  return out + "]";
}

// 1234567 -> "1,234,567"
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct Totals {
  uint64_t params = 0;
  uint64_t bytes = 0;
  std::map<std::string_view, int> types;  // type name -> tensor count
  double bits_per_weight() const { return params == 0 ? 0.0 : 8.0 * bytes / params; }
};

Totals Sum(const GgufFile& file) {
  Totals t;
  for (const GgufTensorInfo& info : file.tensors()) {
    t.params += static_cast<uint64_t>(info.n_elements);
    t.bytes += info.n_bytes;
    ++t.types[DTypeName(info.type)];
  }
  return t;
}

std::string Text(const GgufFile& file) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%s: GGUF v%u, %s bytes, alignment %u, ", file.name().c_str(),
                file.version(), Grouped(file.file_size()).c_str(), file.alignment());
  out += line;
  out += file.tensors().empty() ? "metadata only\n"
                                : "tensor data at byte " + Grouped(file.data_offset()) + "\n";
  out += "\nmetadata (" + std::to_string(file.metadata().size()) + " entries):\n";
  for (const GgufKeyValue& kv : file.metadata()) {
    out += "  " + Escaped(kv.key, kTextMaxString) + ": ";
    if (!kv.value.is_array()) out += std::string(GgufTypeName(kv.value.type())) + " ";
    out += ValueText(kv.value) + "\n";
  }
  out += "\ntensors (" + std::to_string(file.tensors().size()) + ")";
  out += file.tensors().empty() ? "\n" : ":\n";
  size_t name_width = 4;
  for (const GgufTensorInfo& t : file.tensors()) {
    name_width = std::max(name_width, std::min<size_t>(t.name.size(), 64));
  }
  if (!file.tensors().empty()) {
    std::snprintf(line, sizeof line, "  %-*s  %-6s  %-22s  %14s\n", static_cast<int>(name_width),
                  "name", "type", "shape", "bytes");
    out += line;
  }
  for (const GgufTensorInfo& t : file.tensors()) {
    const std::string name = Escaped(t.name, 64);
    std::snprintf(line, sizeof line, "  %-*s  %-6s  %-22s  %14s\n", static_cast<int>(name_width),
                  name.c_str(), std::string(DTypeName(t.type)).c_str(), ShapeText(t).c_str(),
                  Grouped(t.n_bytes).c_str());
    out += line;
  }
  const Totals totals = Sum(file);
  std::string types;
  for (const auto& [name, count] : totals.types) {
    types += (types.empty() ? "" : ", ") + std::string(name) + " x " + std::to_string(count);
  }
  std::snprintf(
      line, sizeof line, "\ntotal: %zu tensors, %s params, %s bytes, %.4f bits per weight%s%s%s\n",
      file.tensors().size(), Grouped(totals.params).c_str(), Grouped(totals.bytes).c_str(),
      totals.bits_per_weight(), types.empty() ? "" : " (", types.c_str(), types.empty() ? "" : ")");
  out += line;
  return out;
}

Json ToJson(const GgufFile& file) {
  Json out;
  out["file"] = file.name();
  out["file_size"] = file.file_size();
  out["version"] = file.version();
  out["alignment"] = file.alignment();
  out["data_offset"] = file.data_offset();
  Json metadata = Json::object();
  for (const GgufKeyValue& kv : file.metadata())
    metadata[std::string(kv.key)] = ValueJson(kv.value);
  out["metadata"] = std::move(metadata);
  Json tensors = Json::array();
  for (const GgufTensorInfo& t : file.tensors()) {
    Json j;
    j["name"] = std::string(t.name);
    j["type"] = std::string(DTypeName(t.type));
    j["shape"] = std::vector<int64_t>(t.shape().begin(), t.shape().end());
    j["offset"] = t.file_offset;
    j["bytes"] = t.n_bytes;
    tensors.push_back(std::move(j));
  }
  out["tensors"] = std::move(tensors);
  const Totals totals = Sum(file);
  Json types = Json::object();
  for (const auto& [name, count] : totals.types) types[std::string(name)] = count;
  out["totals"] = {{"tensors", file.tensors().size()},
                   {"params", totals.params},
                   {"bytes", totals.bytes},
                   {"bits_per_weight", totals.bits_per_weight()},
                   {"types", std::move(types)}};
  return out;
}

struct InfoArgs {
  std::string path;
  bool json = false;
};

int RunInfo(const InfoArgs& args) {
  // A cached REF or alias names its file; info never downloads.
  Result<std::string> path = hub::ResolveModelPath(args.path, false);
  // A folder's FP8 weights are not decoded: info shows types and shapes only.
  Result<GgufFile> file = !path.ok() ? Result<GgufFile>(path.status())
                          : IsHfFolder(*path)
                              ? LoadHfFolder(*path, FileLoad::kMap, HfTensorLoad::kLazy)
                              : GgufFile::Open(*path);
  if (!file.ok()) {
    std::fprintf(stderr, "autarky info: %s\n", file.status().message().c_str());
    return 1;
  }
  std::string out;
  if (args.json) {
    // Strings from the file need not be UTF-8; invalid bytes become U+FFFD in JSON.
    out = ToJson(*file).dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  } else {
    out = Text(*file);
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "autarky info: cannot write the output\n");
    return 1;
  }
  return 0;
}

}  // namespace

void AddInfoCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "info",
      "Print a GGUF file's metadata, tensor table (name, type, shape, bytes) and totals "
      "(parameters, bytes, bits per weight). The file is fully validated first; a malformed "
      "file gives one error naming the byte offset and field, and exit code 1.");
  cmd->add_option("file", args->path,
                  "GGUF file, Hugging Face folder (shown as the GGUF it loads as), or a cached "
                  "REF or alias")
      ->required();
  cmd->add_flag("--json", args->json,
                "Print one JSON object: file, file_size, version, alignment, data_offset, "
                "metadata (key -> {type, value} in file order; arrays also have element_type and "
                "count, and arrays over 64 elements give their first 16 as \"head\" instead of "
                "\"value\"), tensors [{name, type, shape, offset, bytes}], totals");
  cmd->footer(
      "Text output prints arrays of up to 16 elements in full and longer ones as their first 6,\n"
      "e.g. tokenizer.ggml.tokens: [str x 151936] \"!\", \"\\\"\", ...; strings over 160 bytes are "
      "cut.\n");
  cmd->callback([args, &exit_code] { exit_code = RunInfo(*args); });
}

}  // namespace autarky::cli
