// Python's arithmetic operators on Jinja values (+ - * / // % ** and unary - +), including
// Markup's escaping `+`, str/list repetition and printf-style `str % args`.
#pragma once

#include <optional>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace autarky::chat::jinja {

class Interpreter;

Value BinaryOperation(Interpreter& interp, BinaryOp op, const Value& left, const Value& right);
Value UnaryOperation(UnaryOp op, const Value& operand);

// Raises the error of using an undefined value (UndefinedError, or SecurityError for an
// attribute the sandbox refused).
[[noreturn]] void RaiseUndefined(const Value& v);

// Python's slice(start, stop, step).indices(length) as the list of selected indices' bounds.
struct SliceBounds {
  int64_t start = 0, stop = 0, step = 1, count = 0;
};
SliceBounds ResolveSlice(int64_t length, std::optional<int64_t> start, std::optional<int64_t> stop,
                         std::optional<int64_t> step);

}  // namespace autarky::chat::jinja
