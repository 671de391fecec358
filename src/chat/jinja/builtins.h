// The filters, tests, methods and global functions of the Jinja environment that transformers
// renders chat templates with (jinja2's defaults plus `tojson` with json.dumps' arguments,
// `raise_exception` and `strftime_now`), and helpers shared by their implementations.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/value.h"

namespace autarky::chat::jinja {

using FilterFunction = Value (*)(Interpreter& interp, const Value& input, CallArgs& args);
using TestFunction = bool (*)(Interpreter& interp, const Value& input, CallArgs& args);

// nullptr when autarky does not implement the filter or test.
FilterFunction FindFilter(std::string_view name);
TestFunction FindTest(std::string_view name);
// Whether jinja2 (as transformers configures it) has a filter or test of this name; a known
// filter that autarky lacks fails when it is used rather than when the template is parsed.
bool IsJinjaFilter(std::string_view name);
bool IsJinjaTest(std::string_view name);

// A Python attribute of a str, list, dict or dict view: bound methods, or the sandbox's
// unsafe Undefined for the methods that would mutate a list or dict. nullopt when the type
// has no such attribute.
std::optional<Value> BuiltinAttr(Interpreter& interp, const Value& object, std::string_view name);

// range, dict, namespace, cycler, joiner, lipsum, raise_exception, strftime_now.
void AddGlobals(Scope& scope);

// ---- helpers ----

struct Param {
  std::string_view name;
  std::optional<Value> default_value;  // nullopt: required
};

// Binds call arguments to parameters like Python; fails on missing, unknown or surplus
// arguments. The result has one value per parameter.
std::vector<Value> BindArgs(std::string_view function, CallArgs& args,
                            std::initializer_list<Param> params);

using NativeBody = std::function<Value(Interpreter& interp, CallArgs& args)>;
// A callable object (a builtin function or a bound method).
Value MakeFunction(std::string name, NativeBody body, std::string type_name = "function");

// markupsafe's escape: & < > ' " as HTML entities.
std::string HtmlEscape(std::string_view s);
// Python's printf-style `format % args` for str (Markup escapes the arguments).
std::string PercentFormat(Interpreter& interp, const Value& format, const Value& args);
// Python's str.format(*args, **kwargs) (Markup escapes the arguments).
std::string PyStrFormat(Interpreter& interp, const Value& format, CallArgs& args, int depth = 0);
// Python's int() / float() conversions of a str (nullopt on ValueError).
std::optional<int64_t> ParsePyInt(std::string_view text, int base);
std::optional<double> ParsePyFloat(std::string_view text);
// Python's round(x, ndigits) for a float (round half to even on the exact binary value).
double PyRound(double x, int64_t ndigits);
// An integer argument (int or bool), or a TypeError naming `what`.
int64_t ExpectInt(const Value& v, std::string_view what);

}  // namespace autarky::chat::jinja
