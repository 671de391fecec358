// NFC through utf8proc, with a fast path for text that cannot change.
#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

namespace autarky {
namespace {

// Every code point below U+0300 is NFC-stable and never combines with a neighbour, so text whose
// UTF-8 has no byte >= 0xCC (the lead of U+0300) is already in NFC.
bool TriviallyNfc(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0xCC) return false;
  }
  return true;
}

}  // namespace

bool Normalize(Normalization form, std::string_view text, std::string& out) {
  if (form == Normalization::kNone || TriviallyNfc(text)) return false;
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    // Only invalid UTF-8 or allocation failure get here; the text is used unnormalized.
    std::free(mapped);
    return false;
  }
  const std::string_view result(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  const bool changed = result != text;
  if (changed) out.assign(result);
  std::free(mapped);
  return changed;
}

}  // namespace autarky
