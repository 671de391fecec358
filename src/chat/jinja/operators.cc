// Python's arithmetic operators on Jinja values (see operators.h).
#include "chat/jinja/operators.h"

#include <cmath>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

const char* OpSymbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kFloorDiv:
      return "//";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "** or pow()";
  }
  return "?";
}

[[noreturn]] void RaiseOperands(BinaryOp op, const Value& a, const Value& b) {
  Raise("TypeError", std::string("unsupported operand type(s) for ") + OpSymbol(op) + ": '" +
                         TypeName(a) + "' and '" + TypeName(b) + "'");
}

[[noreturn]] void RaiseIntOverflow() {
  Raise("OverflowError", "integer result out of range (autarky's Jinja has 64-bit integers)");
}

Value CheckedFloat(double result, double a, double b) {
  if (std::isinf(result) && std::isfinite(a) && std::isfinite(b)) {
    Raise("OverflowError", "(34, 'Numerical result out of range')");
  }
  return Value::Float(result);
}

// Python's float floor division and modulo (the result of % has the sign of the divisor).
void FloatDivMod(double vx, double wx, double& floordiv, double& mod) {
  mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
}

Value IntPow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(result, base, &result)) RaiseIntOverflow();
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) RaiseIntOverflow();
  }
  return Value::Int(result);
}

Value FloatPow(double x, double y) {
  if (y == 0) return Value::Float(1.0);
  if (x == 0 && y < 0) Raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
  if (x < 0 && std::isfinite(x) && std::isfinite(y) && y != std::floor(y)) {
    Raise("ValueError",
          "a negative number to a fractional power is complex in Python; "
          "autarky's Jinja has no complex numbers");
  }
  return CheckedFloat(std::pow(x, y), x, y);
}

Value Numeric(BinaryOp op, const Value& a, const Value& b) {
  const bool floats = a.is_float() || b.is_float();
  if (!floats) {
    const int64_t x = a.int_value(), y = b.int_value();
    int64_t r = 0;
    switch (op) {
      case BinaryOp::kAdd:
        if (__builtin_add_overflow(x, y, &r)) RaiseIntOverflow();
        return Value::Int(r);
      case BinaryOp::kSub:
        if (__builtin_sub_overflow(x, y, &r)) RaiseIntOverflow();
        return Value::Int(r);
      case BinaryOp::kMul:
        if (__builtin_mul_overflow(x, y, &r)) RaiseIntOverflow();
        return Value::Int(r);
      case BinaryOp::kDiv:
        if (y == 0) Raise("ZeroDivisionError", "division by zero");
        return Value::Float(static_cast<double>(x) / static_cast<double>(y));
      case BinaryOp::kFloorDiv: {
        if (y == 0) Raise("ZeroDivisionError", "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) RaiseIntOverflow();
        int64_t q = x / y;
        if (x % y != 0 && ((x < 0) != (y < 0))) --q;
        return Value::Int(q);
      }
      case BinaryOp::kMod: {
        if (y == 0) Raise("ZeroDivisionError", "integer division or modulo by zero");
        if (y == -1) return Value::Int(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::Int(m);
      }
      case BinaryOp::kPow:
        if (y < 0) {
          if (x == 0) Raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
          return FloatPow(static_cast<double>(x), static_cast<double>(y));
        }
        return IntPow(x, y);
    }
  }
  const double x = a.AsDouble(), y = b.AsDouble();
  switch (op) {
    case BinaryOp::kAdd:
      return CheckedFloat(x + y, x, y);
    case BinaryOp::kSub:
      return CheckedFloat(x - y, x, y);
    case BinaryOp::kMul:
      return CheckedFloat(x * y, x, y);
    case BinaryOp::kDiv:
      if (y == 0) Raise("ZeroDivisionError", "float division by zero");
      return CheckedFloat(x / y, x, y);
    case BinaryOp::kFloorDiv:
    case BinaryOp::kMod: {
      if (y == 0) {
        Raise("ZeroDivisionError",
              op == BinaryOp::kMod ? "float modulo" : "float floor division by zero");
      }
      double floordiv = 0, mod = 0;
      FloatDivMod(x, y, floordiv, mod);
      return Value::Float(op == BinaryOp::kMod ? mod : floordiv);
    }
    case BinaryOp::kPow:
      return FloatPow(x, y);
  }
  return Value::None();
}

// str * n, list * n (n <= 0 gives an empty result).
Value Repeat(Interpreter& interp, const Value& seq, int64_t n) {
  // An empty sequence repeats to itself at once: the loops below would run n times for nothing
  // ('' * 61**10 took the fuzzer past its timeout).
  const bool empty = seq.is_string() ? seq.str().empty() : seq.list().items.empty();
  if (n <= 0 || empty) {
    if (seq.is_string()) return Value::String("", seq.is_safe());
    return Value::List({}, seq.seq_kind());
  }
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<uint64_t>(n) > UINT64_MAX / s.size()) interp.CheckSize(SIZE_MAX);
    interp.CheckSize(s.size() * static_cast<size_t>(n));
    interp.Charge(s.size() * static_cast<size_t>(n) / 64);
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::String(std::move(out), seq.is_safe());
  }
  const auto& items = seq.list().items;
  interp.Charge(items.size() * static_cast<uint64_t>(n));
  std::vector<Value> out;
  out.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::List(std::move(out), seq.seq_kind());
}

bool IsPlainSequence(const Value& v) {
  return v.is_list() && (v.seq_kind() == SeqKind::kList || v.seq_kind() == SeqKind::kTuple);
}

}  // namespace

[[noreturn]] void RaiseUndefined(const Value& v) {
  Raise(v.undefined_is_security() ? "SecurityError" : "UndefinedError", v.undefined_message());
}

SliceBounds ResolveSlice(int64_t length, std::optional<int64_t> start, std::optional<int64_t> stop,
                         std::optional<int64_t> step) {
  SliceBounds out;
  out.step = step.value_or(1);
  if (out.step == 0) Raise("ValueError", "slice step cannot be zero");
  const int64_t lower = out.step > 0 ? 0 : -1;
  const int64_t upper = out.step > 0 ? length : length - 1;
  const auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v;
    if (x < 0) {
      x = x < -length ? lower : x + length;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  out.start = clamp(start, out.step > 0 ? lower : upper);
  const int64_t end = clamp(stop, out.step > 0 ? upper : lower);
  out.stop = end;
  if (out.step > 0) {
    out.count = end > out.start ? (end - out.start - 1) / out.step + 1 : 0;
  } else {
    out.count = out.start > end ? (out.start - end - 1) / (-out.step) + 1 : 0;
  }
  return out;
}

Value BinaryOperation(Interpreter& interp, BinaryOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) RaiseUndefined(a);
  // str % Undefined formats it like any other argument (str() of it is '').
  if (op == BinaryOp::kMod && a.is_string())
    return Value::String(PercentFormat(interp, a, b), a.is_safe());
  if (b.is_undefined()) RaiseUndefined(b);
  if (a.is_number() && b.is_number()) return Numeric(op, a, b);
  switch (op) {
    case BinaryOp::kAdd:
      if (a.is_string() && b.is_string()) {
        interp.CheckSize(a.str().size() + b.str().size());
        if (a.is_safe() || b.is_safe()) {
          // Markup + str escapes the plain string (and str + Markup likewise).
          const std::string left = a.is_safe() ? a.str() : HtmlEscape(a.str());
          const std::string right = b.is_safe() ? b.str() : HtmlEscape(b.str());
          return Value::String(left + right, true);
        }
        return Value::String(a.str() + b.str());
      }
      if (IsPlainSequence(a) && IsPlainSequence(b) && a.seq_kind() == b.seq_kind()) {
        std::vector<Value> items = a.list().items;
        interp.Charge(items.size() + b.list().items.size());
        items.insert(items.end(), b.list().items.begin(), b.list().items.end());
        return Value::List(std::move(items), a.seq_kind());
      }
      if (a.is_string()) {
        Raise("TypeError", "can only concatenate str (not \"" + TypeName(b) + "\") to str");
      }
      if (IsPlainSequence(a)) {
        Raise("TypeError", "can only concatenate " + TypeName(a) + " (not \"" + TypeName(b) +
                               "\") to " + TypeName(a));
      }
      break;
    case BinaryOp::kMul:
      if ((a.is_string() || IsPlainSequence(a)) && b.is_integral()) {
        return Repeat(interp, a, b.int_value());
      }
      if (a.is_integral() && (b.is_string() || IsPlainSequence(b))) {
        return Repeat(interp, b, a.int_value());
      }
      if (a.is_string() || IsPlainSequence(a)) {
        Raise("TypeError", "can't multiply sequence by non-int of type '" + TypeName(b) + "'");
      }
      break;
    case BinaryOp::kMod:
      if (a.is_string()) return Value::String(PercentFormat(interp, a, b), a.is_safe());
      break;
    default:
      break;
  }
  RaiseOperands(op, a, b);
}

Value UnaryOperation(UnaryOp op, const Value& v) {
  if (op == UnaryOp::kNot) return Value::Bool(!Truthy(v));
  if (v.is_undefined()) RaiseUndefined(v);
  if (v.is_float()) return Value::Float(op == UnaryOp::kNeg ? -v.float_value() : v.float_value());
  if (v.is_integral()) {
    const int64_t x = v.int_value();
    if (op == UnaryOp::kPos) return Value::Int(x);
    if (x == INT64_MIN) RaiseIntOverflow();
    return Value::Int(-x);
  }
  Raise("TypeError", std::string("bad operand type for unary ") +
                         (op == UnaryOp::kNeg ? "-" : "+") + ": '" + TypeName(v) + "'");
}

}  // namespace autarky::chat::jinja
