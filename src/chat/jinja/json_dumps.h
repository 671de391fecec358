// Python's json.dumps for Jinja values: what transformers' `tojson` filter produces.
#pragma once

#include <optional>
#include <string>

#include "chat/jinja/value.h"

namespace autarky::chat::jinja {

struct JsonDumpsOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;          // nullopt: one line; "" or "  ": one item a line
  std::optional<std::string> item_separator;  // default ", " (or "," with an indent)
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// Throws TemplateError (TypeError) for values JSON cannot hold (Undefined, namespaces, dict
// keys that are not str/int/float/bool/None, unorderable keys with sort_keys).
std::string JsonDumps(const Value& value, const JsonDumpsOptions& options);

// A JSON string literal of s, as json.dumps writes it.
void AppendJsonString(std::string& out, std::string_view s, bool ensure_ascii);

}  // namespace autarky::chat::jinja
