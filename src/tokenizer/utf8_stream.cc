// Utf8Stream: holds back incomplete UTF-8 sequences between pushes.
#include "tokenizer/utf8_stream.h"

#include "tokenizer/unicode.h"

namespace autarky {

std::string Utf8Stream::Push(std::string_view bytes) {
  std::string data;
  if (pending_.empty()) {
    data.assign(bytes);
  } else {
    data = std::move(pending_);
    data.append(bytes);
  }
  pending_.clear();
  std::string out;
  out.reserve(data.size());
  size_t i = 0;
  while (i < data.size()) {
    const Utf8Unit unit = ScanUtf8(data, i);
    switch (unit.kind) {
      case Utf8Unit::Kind::kValid:
        out.append(data, i, unit.length);
        break;
      case Utf8Unit::Kind::kIllFormed:
        out.append(kReplacementUtf8);
        break;
      case Utf8Unit::Kind::kIncomplete:
        // Only the end of the data can be incomplete: keep it for the next push.
        pending_.assign(data, i, std::string::npos);
        return out;
    }
    i += unit.length;
  }
  return out;
}

std::string Utf8Stream::Flush() {
  std::string out = pending_.empty() ? std::string() : std::string(kReplacementUtf8);
  pending_.clear();
  return out;
}

}  // namespace autarky
