// Utf8Stream: turns the bytes of decoded tokens, which may split a character between tokens,
// into text that is always valid UTF-8, for streaming generated text to a terminal or client.
#pragma once

#include <string>
#include <string_view>

namespace autarky {

// Push() returns every complete character received so far and holds back a trailing partial
// one until its remaining bytes arrive. Bytes that can never form a character are replaced by
// U+FFFD (one per maximal ill-formed subpart, as Hugging Face's decode with errors="replace"),
// so the concatenated output is valid UTF-8 and equals SanitizeUtf8(all bytes pushed) once
// Flush() has been called. Flush() ends the stream: a held partial character becomes U+FFFD.
class Utf8Stream {
 public:
  std::string Push(std::string_view bytes);
  std::string Flush();
  // Bytes held back (0..3).
  size_t pending() const { return pending_.size(); }

 private:
  std::string pending_;
};

}  // namespace autarky
