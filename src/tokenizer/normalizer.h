// Unicode normalization of text before pre-tokenization (Qwen2's tokenizer.json asks for NFC).
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/vocab.h"

namespace autarky {

// Returns true and sets `out` when `text` (valid UTF-8) changes under `form`; false when it is
// already normalized (the common case: checked without allocating).
bool Normalize(Normalization form, std::string_view text, std::string& out);

}  // namespace autarky
