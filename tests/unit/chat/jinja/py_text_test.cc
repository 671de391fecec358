// Python's str, repr, float formatting, case mappings, whitespace and json.dumps as the Jinja
// interpreter reproduces them. Expected values are Python 3.11's (python3 -c 'print(repr(...))').
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/json_dumps.h"
#include "chat/jinja/py_unicode.h"
#include "chat/jinja/value.h"

namespace autarky::chat::jinja {
namespace {

TEST(PyText, FloatReprIsShortestRoundTrip) {
  EXPECT_EQ(FormatFloat(0.0), "0.0");
  EXPECT_EQ(FormatFloat(-0.0), "-0.0");
  EXPECT_EQ(FormatFloat(1.0), "1.0");
  EXPECT_EQ(FormatFloat(0.1), "0.1");
  EXPECT_EQ(FormatFloat(0.30000000000000004), "0.30000000000000004");
  EXPECT_EQ(FormatFloat(1e+16), "1e+16");
  EXPECT_EQ(FormatFloat(1000000000000000.0), "1000000000000000.0");
  EXPECT_EQ(FormatFloat(1.2345678901234568e+17), "1.2345678901234568e+17");
  EXPECT_EQ(FormatFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatFloat(1e-05), "1e-05");
  EXPECT_EQ(FormatFloat(1.5e-07), "1.5e-07");
  EXPECT_EQ(FormatFloat(5e-324), "5e-324");
  EXPECT_EQ(FormatFloat(1.7976931348623157e+308), "1.7976931348623157e+308");
  EXPECT_EQ(FormatFloat(2.5), "2.5");
  EXPECT_EQ(FormatFloat(100.0), "100.0");
  EXPECT_EQ(FormatFloat(-3.14), "-3.14");
  EXPECT_EQ(FormatFloat(0.3333333333333333), "0.3333333333333333");
  EXPECT_EQ(FormatFloat(9007199254740992.0), "9007199254740992.0");
  EXPECT_EQ(FormatFloat(HUGE_VAL), "inf");
  EXPECT_EQ(FormatFloat(-HUGE_VAL), "-inf");
  EXPECT_EQ(FormatFloat(std::nan("")), "nan");
}

TEST(PyText, StringReprQuotesAndEscapes) {
  EXPECT_EQ(Repr(Value::String("plain")), "'plain'");
  EXPECT_EQ(Repr(Value::String("it's")), "\"it's\"");
  EXPECT_EQ(Repr(Value::String("say \"hi\"")), "'say \"hi\"'");
  EXPECT_EQ(Repr(Value::String("both ' and \"")), "'both \\' and \"'");
  EXPECT_EQ(Repr(Value::String("tab\tnl\nbs\\")), "'tab\\tnl\\nbs\\\\'");
  EXPECT_EQ(Repr(Value::String(std::string("\x00\x1f\x7f", 3))), "'\\x00\\x1f\\x7f'");
  EXPECT_EQ(Repr(Value::String("\xe2"
                               "\x80"
                               "\x8b"
                               "\xc2"
                               "\xa0"
                               "é")),
            "'\\u200b\\xa0é'");
  EXPECT_EQ(Repr(Value::String("\xe2"
                               "\x80"
                               "\xa8"
                               "")),
            "'\\u2028'");
  EXPECT_EQ(Repr(Value::String("😀")), "'😀'");
  EXPECT_EQ(Repr(Value::String("\xed"
                               "\x9f"
                               "\xbf"
                               "")),
            "'\\ud7ff'");
}

TEST(PyText, FullCaseMappingsAndFinalSigma) {
  EXPECT_EQ(PyLower("ΣΑΣ ΟΔΥΣΣΕΥΣ"), "σας οδυσσευς");
  EXPECT_EQ(PyUpper("ΣΑΣ ΟΔΥΣΣΕΥΣ"), "ΣΑΣ ΟΔΥΣΣΕΥΣ");
  EXPECT_EQ(PyTitle("ΣΑΣ ΟΔΥΣΣΕΥΣ"), "Σας Οδυσσευς");
  EXPECT_EQ(PyCapitalize("ΣΑΣ ΟΔΥΣΣΕΥΣ"), "Σας οδυσσευς");
  EXPECT_EQ(PyLower("straße ﬁne"), "straße ﬁne");
  EXPECT_EQ(PyUpper("straße ﬁne"), "STRASSE FINE");
  EXPECT_EQ(PyTitle("straße ﬁne"), "Straße Fine");
  EXPECT_EQ(PyCapitalize("straße ﬁne"), "Straße ﬁne");
  EXPECT_EQ(PyLower("ǆemal ǅ"), "ǆemal ǆ");
  EXPECT_EQ(PyUpper("ǆemal ǅ"), "ǄEMAL Ǆ");
  EXPECT_EQ(PyTitle("ǆemal ǅ"), "ǅemal ǅ");
  EXPECT_EQ(PyCapitalize("ǆemal ǅ"), "ǅemal ǆ");
  EXPECT_EQ(PyLower("İstanbul"), "i̇stanbul");
  EXPECT_EQ(PyUpper("İstanbul"), "İSTANBUL");
  EXPECT_EQ(PyTitle("İstanbul"), "İstanbul");
  EXPECT_EQ(PyCapitalize("İstanbul"), "İstanbul");
  EXPECT_EQ(PyLower("hello wORLD 2nd-place"), "hello world 2nd-place");
  EXPECT_EQ(PyUpper("hello wORLD 2nd-place"), "HELLO WORLD 2ND-PLACE");
  EXPECT_EQ(PyTitle("hello wORLD 2nd-place"), "Hello World 2Nd-Place");
  EXPECT_EQ(PyCapitalize("hello wORLD 2nd-place"), "Hello world 2nd-place");
  EXPECT_EQ(PyLower("ÀÉÎõü"), "àéîõü");
  EXPECT_EQ(PyUpper("ÀÉÎõü"), "ÀÉÎÕÜ");
  EXPECT_EQ(PyTitle("ÀÉÎõü"), "Àéîõü");
  EXPECT_EQ(PyCapitalize("ÀÉÎõü"), "Àéîõü");
}

TEST(PyText, WhitespaceAndLineBoundaries) {
  EXPECT_EQ(PyStrip("  a b\xe3"
                    "\x80"
                    "\x80"
                    "",
                    std::nullopt, true, true),
            "a b");
  EXPECT_EQ(PySplitWhitespace("  a b\xe3"
                              "\x80"
                              "\x80"
                              "",
                              -1),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(PyStrip("\x1c"
                    "\x1d"
                    " x \xc2"
                    "\x85"
                    "\xe2"
                    "\x80"
                    "\xa8"
                    "",
                    std::nullopt, true, true),
            "x");
  EXPECT_EQ(PySplitWhitespace("\x1c"
                              "\x1d"
                              " x \xc2"
                              "\x85"
                              "\xe2"
                              "\x80"
                              "\xa8"
                              "",
                              -1),
            (std::vector<std::string>{"x"}));
  EXPECT_EQ(PyStrip("\xe2"
                    "\x80"
                    "\x8b"
                    "zero-width is not space\xe2"
                    "\x80"
                    "\x8b"
                    "",
                    std::nullopt, true, true),
            "\xe2"
            "\x80"
            "\x8b"
            "zero-width is not space\xe2"
            "\x80"
            "\x8b"
            "");
  EXPECT_EQ(PySplitWhitespace("\xe2"
                              "\x80"
                              "\x8b"
                              "zero-width is not space\xe2"
                              "\x80"
                              "\x8b"
                              "",
                              -1),
            (std::vector<std::string>{"\xe2"
                                      "\x80"
                                      "\x8b"
                                      "zero-width",
                                      "is", "not",
                                      "space\xe2"
                                      "\x80"
                                      "\x8b"
                                      ""}));
  EXPECT_EQ(PySplitLines("a\nb\r\nc\rd\x0b"
                         "e\x0c"
                         "f\x1c"
                         "g\xc2"
                         "\x85"
                         "h\xe2"
                         "\x80"
                         "\xa8"
                         "i",
                         false),
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i"}));
  EXPECT_EQ(PySplitLines("a\nb\r\nc\rd\x0b"
                         "e\x0c"
                         "f\x1c"
                         "g\xc2"
                         "\x85"
                         "h\xe2"
                         "\x80"
                         "\xa8"
                         "i",
                         true),
            (std::vector<std::string>{"a\n", "b\r\n", "c\r",
                                      "d\x0b"
                                      "",
                                      "e\x0c"
                                      "",
                                      "f\x1c"
                                      "",
                                      "g\xc2"
                                      "\x85"
                                      "",
                                      "h\xe2"
                                      "\x80"
                                      "\xa8"
                                      "",
                                      "i"}));
  EXPECT_EQ(PySplitLines("end\n", false), (std::vector<std::string>{"end"}));
  EXPECT_EQ(PySplitLines("end\n", true), (std::vector<std::string>{"end\n"}));
  EXPECT_EQ(PySplitLines("", false), (std::vector<std::string>{}));
  EXPECT_EQ(PySplitLines("", true), (std::vector<std::string>{}));
  EXPECT_EQ(PySplitLines("\n\n", false), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(PySplitLines("\n\n", true), (std::vector<std::string>{"\n", "\n"}));
}

TEST(PyText, RoundHalfEvenOnTheExactBinaryValue) {
  EXPECT_EQ(FormatFloat(PyRound(2.675, 2)), "2.67");
  EXPECT_EQ(FormatFloat(PyRound(2.5, 0)), "2.0");
  EXPECT_EQ(FormatFloat(PyRound(3.5, 0)), "4.0");
  EXPECT_EQ(FormatFloat(PyRound(0.125, 2)), "0.12");
  EXPECT_EQ(FormatFloat(PyRound(0.375, 2)), "0.38");
  EXPECT_EQ(FormatFloat(PyRound(1234.5678, -2)), "1200.0");
  EXPECT_EQ(FormatFloat(PyRound(-2.5, 0)), "-2.0");
  EXPECT_EQ(FormatFloat(PyRound(1e+300, 5)), "1e+300");
  EXPECT_EQ(FormatFloat(PyRound(5e-324, 3)), "0.0");
  EXPECT_EQ(FormatFloat(PyRound(0.5, 0)), "0.0");
  EXPECT_EQ(FormatFloat(PyRound(1.005, 2)), "1.0");
}

TEST(PyText, JsonDumpsLikePython) {
  // json.dumps(x, ensure_ascii=False) and with indent / separators / sort_keys, as transformers'
  // tojson calls it.
  auto dict = std::make_shared<DictData>();
  dict->Set(Value::String("b"), Value::List({Value::Int(1), Value::Float(2.0), Value::None()}));
  dict->Set(Value::String("a"), Value::String("é\"\\\n\x01<>&\x7f😀"));
  dict->Set(Value::String("e"), Value::Dict());
  dict->Set(Value::Int(7), Value::Bool(true));
  const Value v = Value::Dict(dict);
  JsonDumpsOptions plain;
  EXPECT_EQ(
      JsonDumps(v, plain),
      "{\"b\": [1, 2.0, null], \"a\": \"é\\\"\\\\\\n\\u0001<>&\x7f😀\", \"e\": {}, \"7\": true}");
  JsonDumpsOptions ascii;
  ascii.ensure_ascii = true;
  EXPECT_EQ(JsonDumps(Value::String("é\x7f😀"), ascii), "\"\\u00e9\\u007f\\ud83d\\ude00\"");
  JsonDumpsOptions indented;
  indented.indent = "  ";
  EXPECT_EQ(
      JsonDumps(v, indented),
      "{\n  \"b\": [\n    1,\n    2.0,\n    null\n  ],\n  \"a\": \"é\\\"\\\\\\n\\u0001<>&\x7f😀\",\n"
      "  \"e\": {},\n  \"7\": true\n}");
  JsonDumpsOptions compact;
  compact.item_separator = ",";
  compact.key_separator = ":";
  EXPECT_EQ(JsonDumps(Value::List({Value::Float(1e16), Value::Float(-0.0), Value::Float(HUGE_VAL),
                                   Value::Float(std::nan(""))}),
                      compact),
            "[1e+16,-0.0,Infinity,NaN]");
  // sort_keys orders keys with Python's <: mixed key types cannot be ordered.
  JsonDumpsOptions sorted;
  sorted.sort_keys = true;
  EXPECT_THROW(JsonDumps(v, sorted), TemplateError);
  EXPECT_THROW(JsonDumps(Value::Undefined(), plain), TemplateError);
}

TEST(PyText, EqualityAndOrderFollowPython) {
  EXPECT_TRUE(Equals(Value::Int(1), Value::Float(1.0)));
  EXPECT_TRUE(Equals(Value::Int(1), Value::Bool(true)));
  // int and float compare exactly, not through a rounded conversion.
  EXPECT_FALSE(Equals(Value::Int(9007199254740993), Value::Float(9007199254740992.0)));
  EXPECT_TRUE(Less(Value::Float(9007199254740992.0), Value::Int(9007199254740993)));
  EXPECT_FALSE(Equals(Value::List({Value::Int(1)}), Value::Tuple({Value::Int(1)})));
  EXPECT_TRUE(Equals(Value::Undefined(), Value::Undefined()));
  EXPECT_TRUE(Less(Value::String("Z"), Value::String("a")));
  EXPECT_TRUE(Less(Value::String("é"), Value::String("😀")));  // code point order
  EXPECT_THROW(Less(Value::String("a"), Value::Int(1)), TemplateError);
}

}  // namespace
}  // namespace autarky::chat::jinja
