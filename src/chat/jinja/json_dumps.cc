// Python's json.dumps (see json_dumps.h).
#include "chat/jinja/json_dumps.h"

#include <algorithm>
#include <cmath>

#include "chat/jinja/error.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

void AppendU16Escape(std::string& out, uint32_t unit) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(unit >> shift) & 0xF]);
}

std::string FloatJson(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return FormatFloat(d);
}

class Encoder {
 public:
  explicit Encoder(const JsonDumpsOptions& options) : options_(options) {
    item_separator_ =
        options.item_separator ? *options.item_separator : (options.indent ? "," : ", ");
  }

  void Encode(const Value& v, int level) {
    if (level > static_cast<int>(kMaxValueDepth) + 8) {
      Raise("RecursionError", "maximum recursion depth exceeded while encoding a JSON object");
    }
    switch (v.kind()) {
      case Kind::kNone:
        out_ += "null";
        return;
      case Kind::kBool:
        out_ += v.bool_value() ? "true" : "false";
        return;
      case Kind::kInt:
        out_ += std::to_string(v.int_value());
        return;
      case Kind::kFloat:
        out_ += FloatJson(v.float_value());
        return;
      case Kind::kString:
        AppendJsonString(out_, v.str(), options_.ensure_ascii);
        return;
      case Kind::kList:
        if (v.seq_kind() == SeqKind::kList || v.seq_kind() == SeqKind::kTuple) {
          EncodeList(v.list().items, level);
          return;
        }
        break;
      case Kind::kDict:
        EncodeDict(v.dict(), level);
        return;
      default:
        break;
    }
    Raise("TypeError", "Object of type " + TypeName(v) + " is not JSON serializable");
  }

  std::string Take() { return std::move(out_); }

 private:
  void NewLine(int level) {
    if (!options_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *options_.indent;
  }

  void EncodeList(const std::vector<Value>& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_ += '[';
    NewLine(level + 1);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        out_ += item_separator_;
        NewLine(level + 1);
      }
      Encode(items[i], level + 1);
    }
    NewLine(level);
    out_ += ']';
  }

  std::string KeyString(const Value& key) {
    switch (key.kind()) {
      case Kind::kString:
        return key.str();
      case Kind::kFloat:
        return FloatJson(key.float_value());
      case Kind::kBool:
        return key.bool_value() ? "true" : "false";
      case Kind::kNone:
        return "null";
      case Kind::kInt:
        return std::to_string(key.int_value());
      default:
        Raise("TypeError", "keys must be str, int, float, bool or None, not " + TypeName(key));
    }
  }

  void EncodeDict(const DictData& dict, int level) {
    if (dict.empty()) {
      out_ += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    entries.reserve(dict.size());
    for (const auto& entry : dict.entries()) entries.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return Less(a->first, b->first); });
    }
    out_ += '{';
    NewLine(level + 1);
    bool first = true;
    for (const auto* entry : entries) {
      if (!first) {
        out_ += item_separator_;
        NewLine(level + 1);
      }
      first = false;
      AppendJsonString(out_, KeyString(entry->first), options_.ensure_ascii);
      out_ += options_.key_separator;
      Encode(entry->second, level + 1);
    }
    NewLine(level);
    out_ += '}';
  }

  const JsonDumpsOptions& options_;
  std::string item_separator_;
  std::string out_;
};

}  // namespace

void AppendJsonString(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = DecodeUtf8(s, i);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (cp < 0x20) {
      AppendU16Escape(out, cp);
    } else if (!ensure_ascii || cp < 0x7F) {
      out.append(s.substr(start, i - start));
    } else if (cp < 0x10000) {
      AppendU16Escape(out, cp);
    } else {
      const uint32_t v = cp - 0x10000;
      AppendU16Escape(out, 0xD800 | (v >> 10));
      AppendU16Escape(out, 0xDC00 | (v & 0x3FF));
    }
  }
  out += '"';
}

std::string JsonDumps(const Value& value, const JsonDumpsOptions& options) {
  Encoder encoder(options);
  encoder.Encode(value, 0);
  return encoder.Take();
}

}  // namespace autarky::chat::jinja
