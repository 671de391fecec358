// The Jinja lexer, configured as transformers configures jinja2 for chat templates:
// trim_blocks, lstrip_blocks, no keep_trailing_newline, default delimiters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autarky::chat::jinja {

enum class TokenType : uint8_t {
  kData,           // template text (raw blocks included)
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEof,
};

// The operators of Jinja's expression syntax.
enum class Op : uint8_t {
  kNone,
  kAdd,
  kSub,
  kDiv,
  kFloorDiv,
  kMul,
  kMod,
  kPow,
  kTilde,
  kLBracket,
  kRBracket,
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kEq,
  kNe,
  kGt,
  kGtEq,
  kLt,
  kLtEq,
  kAssign,
  kDot,
  kColon,
  kPipe,
  kComma,
  kSemicolon,
};

struct Token {
  TokenType type = TokenType::kEof;
  Op op = Op::kNone;
  std::string text;  // data, name, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1, column = 1;  // 1-based; columns count characters
};

// The spelling of an operator ("+", "//", ...).
std::string_view OpText(Op op);

// Tokenizes a template. Throws TemplateError (with line and column) on lexical errors:
// unterminated comments or raw blocks, bad characters inside tags, unbalanced brackets,
// invalid escapes or numbers, and source that is not valid UTF-8.
std::vector<Token> Tokenize(std::string_view source);

}  // namespace autarky::chat::jinja
