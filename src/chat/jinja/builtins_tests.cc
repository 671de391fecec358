// jinja2's builtin tests (`x is defined`, `x is string`, `x is equalto y`, ...).
#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

Value OneArg(std::string_view name, CallArgs& args) {
  return BindArgs(name, args, {{"other", std::nullopt}})[0];
}

void NoArgs(std::string_view name, CallArgs& args) { BindArgs(name, args, {}); }

bool ModEquals(Interpreter& interp, const Value& v, const Value& divisor, int64_t expected) {
  return Equals(BinaryOperation(interp, BinaryOp::kMod, v, divisor), Value::Int(expected));
}

bool TestOdd(Interpreter& interp, const Value& v, CallArgs& args) {
  NoArgs("odd", args);
  return ModEquals(interp, v, Value::Int(2), 1);
}
bool TestEven(Interpreter& interp, const Value& v, CallArgs& args) {
  NoArgs("even", args);
  return ModEquals(interp, v, Value::Int(2), 0);
}
bool TestDivisibleBy(Interpreter& interp, const Value& v, CallArgs& args) {
  return ModEquals(interp, v, BindArgs("divisibleby", args, {{"num", std::nullopt}})[0], 0);
}
bool TestDefined(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("defined", args);
  return !v.is_undefined();
}
bool TestUndefined(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("undefined", args);
  return v.is_undefined();
}
bool TestFilter(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("filter", args);
  return v.is_string() && IsJinjaFilter(v.str());
}
bool TestTest(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("test", args);
  return v.is_string() && IsJinjaTest(v.str());
}
bool TestNone(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("none", args);
  return v.is_none();
}
bool TestBoolean(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("boolean", args);
  return v.is_bool();
}
bool TestFalse(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("false", args);
  return v.is_bool() && !v.bool_value();
}
bool TestTrue(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("true", args);
  return v.is_bool() && v.bool_value();
}
bool TestInteger(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("integer", args);
  return v.is_int();
}
bool TestFloat(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("float", args);
  return v.is_float();
}
bool TestLower(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("lower", args);
  return PyIsLower(ToStr(v));
}
bool TestUpper(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("upper", args);
  return PyIsUpper(ToStr(v));
}
bool TestString(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("string", args);
  return v.is_string();
}
bool TestMapping(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("mapping", args);
  return v.is_dict();
}
bool TestNumber(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("number", args);
  return v.is_number();
}
bool TestSequence(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("sequence", args);
  // Python: len(x) and x.__getitem__ both exist (Undefined has both).
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kString:
    case Kind::kDict:
      return true;
    case Kind::kList:
      return v.seq_kind() == SeqKind::kList || v.seq_kind() == SeqKind::kTuple ||
             v.seq_kind() == SeqKind::kRange;
    default:
      return false;
  }
}
bool TestIterable(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("iterable", args);
  return IsIterable(v);
}
bool TestCallable(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("callable", args);
  return v.is_undefined() || (v.is_object() && v.object().IsCallable());
}
bool TestSameAs(Interpreter&, const Value& v, CallArgs& args) {
  const Value other = OneArg("sameas", args);
  // Python's `is`: singletons, CPython's cached small ints, otherwise object identity.
  if (v.is_none() || other.is_none()) return v.is_none() && other.is_none();
  if (v.is_bool() || other.is_bool()) {
    return v.is_bool() && other.is_bool() && v.bool_value() == other.bool_value();
  }
  if (v.is_int() && other.is_int()) {
    return v.int_value() == other.int_value() && v.int_value() >= -5 && v.int_value() <= 256;
  }
  if (v.kind() != other.kind()) return false;
  return v.identity() != nullptr && v.identity() == other.identity();
}
bool TestEscaped(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("escaped", args);
  return v.is_string() && v.is_safe();
}
bool TestIn(Interpreter&, const Value& v, CallArgs& args) {
  const Value seq = OneArg("in", args);
  if (seq.is_object())
    Raise("TypeError", "argument of type '" + TypeName(seq) + "' is not iterable");
  return Contains(seq, v);
}
bool TestEq(Interpreter&, const Value& v, CallArgs& args) { return Equals(v, OneArg("eq", args)); }
bool TestNe(Interpreter&, const Value& v, CallArgs& args) { return !Equals(v, OneArg("ne", args)); }
bool TestGt(Interpreter&, const Value& v, CallArgs& args) {
  return CompareOp(v, OneArg("gt", args), ">");
}
bool TestGe(Interpreter&, const Value& v, CallArgs& args) {
  return CompareOp(v, OneArg("ge", args), ">=");
}
bool TestLt(Interpreter&, const Value& v, CallArgs& args) {
  return CompareOp(v, OneArg("lt", args), "<");
}
bool TestLe(Interpreter&, const Value& v, CallArgs& args) {
  return CompareOp(v, OneArg("le", args), "<=");
}

struct TestEntry {
  std::string_view name;
  TestFunction function;
};

constexpr TestEntry kTests[] = {
    {"odd", TestOdd},
    {"even", TestEven},
    {"divisibleby", TestDivisibleBy},
    {"defined", TestDefined},
    {"undefined", TestUndefined},
    {"filter", TestFilter},
    {"test", TestTest},
    {"none", TestNone},
    {"boolean", TestBoolean},
    {"false", TestFalse},
    {"true", TestTrue},
    {"integer", TestInteger},
    {"float", TestFloat},
    {"lower", TestLower},
    {"upper", TestUpper},
    {"string", TestString},
    {"mapping", TestMapping},
    {"number", TestNumber},
    {"sequence", TestSequence},
    {"iterable", TestIterable},
    {"callable", TestCallable},
    {"sameas", TestSameAs},
    {"escaped", TestEscaped},
    {"in", TestIn},
    {"==", TestEq},
    {"eq", TestEq},
    {"equalto", TestEq},
    {"!=", TestNe},
    {"ne", TestNe},
    {">", TestGt},
    {"gt", TestGt},
    {"greaterthan", TestGt},
    {"ge", TestGe},
    {">=", TestGe},
    {"<", TestLt},
    {"lt", TestLt},
    {"lessthan", TestLt},
    {"<=", TestLe},
    {"le", TestLe},
};

}  // namespace

TestFunction FindTest(std::string_view name) {
  for (const TestEntry& entry : kTests) {
    if (entry.name == name) return entry.function;
  }
  return nullptr;
}

bool IsJinjaTest(std::string_view name) { return FindTest(name) != nullptr; }

}  // namespace autarky::chat::jinja
