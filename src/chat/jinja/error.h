// TemplateError: how the Jinja lexer, parser and interpreter report a failure. It is thrown
// inside this folder only and turned into a Status (with line and column) by template.cc,
// because an error deep inside an expression must unwind the whole evaluation, like Python's
// exceptions do in the reference implementation.
#pragma once

#include <exception>
#include <string>
#include <string_view>

// GCC 12 reports false -Wrestrict overlaps inside std::string concatenation at -O3 (GCC bug
// 105329, fixed in GCC 13); the Jinja sources build strings that way throughout.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

namespace autarky::chat::jinja {

class TemplateError : public std::exception {
 public:
  explicit TemplateError(std::string message, int line = 0, int column = 0)
      : message_(std::move(message)), line_(line), column_(column) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const { return message_; }
  int line() const { return line_; }
  int column() const { return column_; }
  bool has_position() const { return line_ > 0; }
  void SetPosition(int line, int column) {
    line_ = line;
    column_ = column;
  }

 private:
  std::string message_;
  int line_ = 0, column_ = 0;
};

// Raises the error Python would: `kind` is the exception type ("TypeError", "UndefinedError",
// "SecurityError", "TemplateError", ...), shown as "TypeError: message".
[[noreturn]] inline void Raise(std::string_view kind, const std::string& message) {
  throw TemplateError(std::string(kind) + ": " + message);
}

}  // namespace autarky::chat::jinja
