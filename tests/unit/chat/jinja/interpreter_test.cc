// Semantics of the Jinja interpreter: every expectation was produced by Python's jinja2 3.1 in
// transformers' environment (tests/reference/templates/render.py), the reference autarky must
// match byte for byte.
#include <gtest/gtest.h>

#include "unit/chat/jinja/render_util.h"

namespace autarky::chat {
namespace {

using testing::Render;

// printing an undefined variable gives '', iterating it gives nothing, its length is 0
TEST(JinjaInterpreter, UndefinedPrintsEmptyIteratesEmptyHasLengthZero) {
  EXPECT_EQ(Render("{{ missing }}|{% for x in missing %}x{% endfor %}|{{ missing|length }}|{{ "
                   "missing is defined }}|{{ missing is undefined }}"),
            "||0|False|True");
}

// an attribute or item of an undefined value raises (jinja2's default Undefined)
TEST(JinjaInterpreter, AttributeOrItemOfUndefinedRaises) {
  EXPECT_RAISES(Render("{{ missing.attr }}"));    // UndefinedError: 'missing' is undefined
  EXPECT_RAISES(Render("{{ missing['key'] }}"));  // UndefinedError: 'missing' is undefined
  EXPECT_RAISES(Render("{{ missing + 1 }}"));     // UndefinedError: 'missing' is undefined
}

// a missing attribute of a defined object is undefined (printing it is '', testing it works)
TEST(JinjaInterpreter, MissingAttributeOfDefinedObjectIsUndefined) {
  EXPECT_EQ(Render("{{ d.nope }}|{{ d.nope is defined }}|{{ d['nope'] is defined }}|{{ none.attr "
                   "is defined }}",
                   R"json({"d": {"a": 1}})json"),
            "|False|False|False");
  EXPECT_RAISES(Render(
      "{{ d.nope.deeper }}",
      R"json({"d": {"a": 1}})json"));  // UndefinedError: 'dict object' has no attribute 'nope'
}

// attribute access prefers dict methods, item access prefers keys
TEST(JinjaInterpreter, AttributesPreferMethodsItemsPreferKeys) {
  EXPECT_EQ(Render("{{ d['items'] }}|{{ d.items is defined }}|{{ d.get('a') }}",
                   R"json({"d": {"a": 1, "items": "value"}})json"),
            "value|True|1");
  EXPECT_EQ(Render("{{ missing == missing }}|{{ missing != 1 }}|{{ not missing }}|{{ missing or "
                   "'fallback' }}|{{ 'x' in missing }}"),
            "True|True|True|fallback|False");
  EXPECT_EQ(Render("{{ missing|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) "
                   "}}|{{ none|default('d') }}"),
            "d||d|None");
}

// loop variables
TEST(JinjaInterpreter, LoopVariables) {
  EXPECT_EQ(
      Render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ "
             "loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}"),
      "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
  EXPECT_EQ(Render("{% for x in 'abc' %}[{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.cycle(1, "
                   "2) }}]{% endfor %}"),
            "[|b|1][a|c|2][b||1]");
  EXPECT_EQ(Render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}:{{ loop.index }}/{{ "
                   "loop.length }} {% endfor %}"),
            "2:1/2 4:2/2 ");
  EXPECT_EQ(Render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 4 "
                   "%}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "023");
  EXPECT_EQ(Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}"),
            "a=1 b=2 ");
  EXPECT_EQ(Render("{% for x in [1, [2, [3]], 4] recursive %}{% if x is iterable %}({{ loop(x) "
                   "}}){% else %}{{ x }}@{{ loop.depth }} {% endif %}{% endfor %}"),
            "1@1 (2@2 (3@3 ))4@1 ");
}

// scoping: a loop body is a new scope per iteration, `if` is not a scope
TEST(JinjaInterpreter, LoopBodyIsAScopeIfIsNot) {
  EXPECT_EQ(
      Render(
          "{% set x = 'outer' %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{% endfor %}|{{ x }}"),
      "outerouter|outer");
  EXPECT_EQ(Render("{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}"), "set in if");
  EXPECT_EQ(Render("{% set ns = namespace(total=0, seen=[]) %}{% for i in [1, 2, 3] %}{% set "
                   "ns.total = ns.total + i %}{% endfor %}{{ ns.total }}"),
            "6");
  EXPECT_RAISES(Render("{% set x = 1 %}{% set x.y = 2 %}"));  // TemplateRuntimeError: cannot assign
                                                              // attribute on non-namespace object
}

// macros: defaults, keyword arguments, varargs/kwargs, caller, recursion, late binding
TEST(JinjaInterpreter, Macros) {
  EXPECT_EQ(
      Render("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ "
             "greet('Ann') }} {{ greet(greeting='Hi', name='Bo') }} {{ greet() }}"),
      "Hello, Ann! Hi, Bo! Hello, !");
  EXPECT_EQ(
      Render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, x=3) }}"),
      "1(2,){'x': 3}");
  EXPECT_RAISES(
      Render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}"));  // TypeError: macro 'm' takes
                                                                      // not more than 1 argument(s)
  EXPECT_EQ(
      Render("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}body{% endcall %}"),
      "<body>");
  EXPECT_EQ(Render("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif "
                   "%}{% endmacro %}{{ fact(6) }}"),
            "720");
  EXPECT_EQ(
      Render("{% set v = 1 %}{% macro show() %}{{ v }}{% endmacro %}{% set v = 2 %}{{ show() }}"),
      "2");
}

// whitespace control with trim_blocks and lstrip_blocks
TEST(JinjaInterpreter, WhitespaceControl) {
  EXPECT_EQ(Render("<ul>\n  {% for i in [1, 2] %}\n  <li>{{ i }}</li>\n  {% endfor %}\n</ul>\n"),
            "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>");
  EXPECT_EQ(Render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(Render("  {%+ if true %}kept{% endif %}\n{% if true +%}\nnewline kept{% endif %}"),
            "  kept\nnewline kept");
  EXPECT_EQ(Render("line {# comment #}\n   {# own line #}\nend"), "line end");
  EXPECT_EQ(Render("{% raw %}{{ literal }}{% endraw %}"), "{{ literal }}");
}

// expressions
TEST(JinjaInterpreter, Expressions) {
  EXPECT_EQ(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 ** 2 }} {{ 1 < 2 "
                   "< 3 }} {{ 'a' ~ 1 ~ none }}"),
            "3 -4 2 3.5 64 True a1None");
  EXPECT_EQ(Render("{{ 'y' if false }}|{{ 'a' if false else 'b' }}"), "|b");
  EXPECT_EQ(Render("{{ [1, 'two', none, true, 2.5, {'k': \"it's\"}] }}"),
            "[1, 'two', None, True, 2.5, {'k': \"it's\"}]");
  EXPECT_EQ(Render("{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 100.0 }} {{ -0.0 }}"),
            "0.30000000000000004 1e+16 1e-05 100.0 -0.0");
}

// sandbox: no mutation of lists and dicts, no private attributes
TEST(JinjaInterpreter, Sandbox) {
  EXPECT_RAISES(
      Render("{{ l.append(1) }}", R"json({"l": [1]})json"));  // SecurityError: access to attribute
                                                              // 'append' of 'list' object is unsafe
  EXPECT_RAISES(
      Render("{{ l.pop() }}", R"json({"l": [1]})json"));  // SecurityError: access to attribute
                                                          // 'pop' of 'list' object is unsafe.
  EXPECT_EQ(Render("{{ ''.__class__ }}|{{ l.append is defined }}", R"json({"l": [1]})json"),
            "|False");
  EXPECT_RAISES(Render("{{ range(100001)|length }}"));  // OverflowError: Range too big. The sandbox
                                                        // blocks ranges larger than MA
}

// errors raised by the template
TEST(JinjaInterpreter, TemplateErrors) {
  EXPECT_RAISES(Render("{{ raise_exception('Invalid role') }}"));  // TemplateError: Invalid role
  EXPECT_RAISES(Render("{{ 1 / 0 }}"));    // ZeroDivisionError: division by zero
  EXPECT_RAISES(Render("{{ 'a' + 1 }}"));  // TypeError: can only concatenate str (not "int") to str
  EXPECT_RAISES(Render("{{ none.x + 1 }}"));  // UndefinedError: 'None' has no attribute 'x'
  EXPECT_RAISES(
      Render("{% for a, b in [[1, 2, 3]] %}{% endfor %}"));  // ValueError: too many values to
                                                             // unpack (expected 2)
  EXPECT_RAISES(
      Render("{{ 'x'|nosuchfilter }}"));  // TemplateAssertionError: No filter named 'nosuchfilter'.
  EXPECT_EQ(Render("{% if false %}{{ 'x'|nosuchfilter }}{% endif %}unreached filters fail only "
                   "when reached"),
            "unreached filters fail only when reached");
  EXPECT_RAISES(Render("{% do x %}"));   // TemplateSyntaxError: Encountered unknown tag 'do'.
  EXPECT_RAISES(Render("{% break %}"));  // SyntaxError: 'break' outside loop (<template>, line 11)
  EXPECT_RAISES(Render(
      "{% include 'other.jinja' %}"));  // TypeError: no loader for this environment specified
}

}  // namespace
}  // namespace autarky::chat
