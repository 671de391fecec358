// Lexing and parsing: error messages name the line and column of the offending token, string
// literals and numbers read as jinja2 reads them, and line endings are normalized.
#include <gtest/gtest.h>

#include "chat/jinja/template.h"
#include "unit/chat/jinja/render_util.h"

namespace autarky::chat {
namespace {

using testing::Render;

std::string ParseError(std::string_view source) {
  Result<jinja::Template> t = jinja::Template::Parse(source);
  return t.ok() ? "parsed" : t.status().message();
}

TEST(JinjaSyntax, ParseErrorsNameLineAndColumn) {
  EXPECT_EQ(ParseError("line1\n{{ 1 +* 2 }}"),
            "line 2, column 7: TemplateSyntaxError: unexpected '*'");
  EXPECT_EQ(ParseError("a\n  {% if x %}\n{% endfor %}"),
            "line 3, column 4: TemplateSyntaxError: Encountered unknown tag 'endfor'. Jinja was "
            "looking for the following tags: 'elif' or 'else' or 'endif'.");
  EXPECT_EQ(ParseError("{% for x in y %}\nbody"),
            "line 2, column 5: TemplateSyntaxError: Unexpected end of template. Jinja was looking "
            "for the following tags: 'endfor' or 'else'.");
  EXPECT_EQ(ParseError("{# never closed"),
            "line 1, column 1: TemplateSyntaxError: Missing end of comment tag");
  EXPECT_EQ(ParseError("{{ (1 }}"),
            "line 1, column 7: TemplateSyntaxError: unexpected '}', expected ')'");
  EXPECT_EQ(ParseError("x\n\n  {{ a | nosuch }}"),
            "line 3, column 10: TemplateAssertionError: No filter named 'nosuch'.");
  EXPECT_EQ(ParseError("é\tü {% unknown %}"),
            "line 1, column 8: TemplateSyntaxError: Encountered unknown tag 'unknown'.");
  EXPECT_EQ(ParseError("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}"),
            "line 1, column 35: TemplateSyntaxError: 'break' outside loop");
  EXPECT_EQ(ParseError("{{ 'ok' }}\xff"),
            "line 1, column 11: TemplateSyntaxError: the template is not valid UTF-8 (byte 10)");
}

TEST(JinjaSyntax, RenderErrorsNameLineAndColumn) {
  EXPECT_EQ(Render("ok\n{{ raise_exception('bad role') }}"),
            "RAISED line 2, column 4: TemplateError: bad role");
  EXPECT_EQ(Render("{% for m in l %}\n  {{ m + 1 }}\n{% endfor %}", R"({"l": ["a"]})"),
            "RAISED line 2, column 8: TypeError: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(Render("{{ x.y }}"), "RAISED line 1, column 5: UndefinedError: 'x' is undefined");
}

TEST(JinjaSyntax, LiteralsReadAsJinja2ReadsThem) {
  // Python's unicode-escape rules, after non-ASCII characters are escaped (so '\é' keeps its
  // backslash and becomes the four characters \xe9, as in jinja2).
  EXPECT_EQ(Render(R"({{ '\n\t\x41\u00e9\U0001F600\101\q' }})"), "\n\tAé😀A\\q");
  EXPECT_EQ(Render("{{ '\\é' }}"), "\\xe9");
  EXPECT_EQ(Render(R"({{ "it's" 'con' "cat" }})"), "it'sconcat");
  EXPECT_EQ(Render("{{ 1_000 + 0x1F + 0o17 + 0b101 }} {{ 1_0.5_0 }} {{ 1e3 }} {{ 2.5E-3 }}"),
            "1051 10.5 1000.0 0.0025");
  EXPECT_EQ(Render("{{ true }}{{ True }}{{ false }}{{ none }}{{ None }}"), "TrueTrueFalseNoneNone");
  EXPECT_RAISES(Render(R"({{ '\x4' }})"));
  EXPECT_RAISES(Render("{{ 99999999999999999999 }}"));  // Python has big integers; autarky 64 bits
}

TEST(JinjaSyntax, LineEndingsAndTrailingNewline) {
  // \r\n and \r become \n everywhere; one trailing newline is dropped.
  EXPECT_EQ(Render("a\r\nb\r{% if true %}\r\nc{% endif %}\r\n"), "a\nb\nc");
  EXPECT_EQ(Render("trailing newline\n\n"), "trailing newline\n");
  // A tag ends only where its brackets balance.
  EXPECT_EQ(Render("{{ {'a': {'b': 1}}['a']}}"), "{'b': 1}");
}

}  // namespace
}  // namespace autarky::chat
