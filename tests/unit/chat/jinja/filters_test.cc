// The filters chat templates use, against jinja2 3.1 in transformers' environment (every
// expectation was rendered by tests/reference/templates/render.py).
#include <gtest/gtest.h>

#include "unit/chat/jinja/render_util.h"

namespace autarky::chat {
namespace {

using testing::Render;

TEST(JinjaFilters, TrimLengthToJson) {
  EXPECT_EQ(Render("{{ '  padded \n'|trim }}|{{ 'xxhixx'|trim('x') }}|{{ '\\u3000wide "
                   "space\\u3000'|trim }}"),
            "padded|hi|wide space");
  EXPECT_EQ(Render("{{ l|length }} {{ s|length }} {{ d|length }} {{ l|count }}",
                   R"json({"l": [1, 2, 3], "s": "naïve", "d": {"a": 1}})json"),
            "3 5 1 3");
  EXPECT_EQ(
      Render(
          "{{ tl|tojson }}",
          R"json({"tl": [{"name": "f", "args": {"b": 1, "a": [true, null, 1.5]}, "text": "é\"\n<>&"}]})json"),
      "[{\"name\": \"f\", \"args\": {\"b\": 1, \"a\": [true, null, 1.5]}, \"text\": "
      "\"é\\\"\\n<>&\"}]");
  EXPECT_EQ(Render("{{ tl|tojson(indent=4) }}",
                   R"json({"tl": [{"name": "f", "args": {"b": 1, "a": []}, "e": {}}]})json"),
            "[\n    {\n        \"name\": \"f\",\n        \"args\": {\n            \"b\": 1,\n      "
            "      \"a\": []\n        },\n        \"e\": {}\n    }\n]");
  EXPECT_EQ(
      Render(
          "{{ x|tojson(separators=(',', ':'), sort_keys=true) }}|{{ x|tojson(ensure_ascii=true) }}",
          R"json({"x": {"z": "é", "a": [1, 2]}})json"),
      "{\"a\":[1,2],\"z\":\"é\"}|{\"z\": \"\\u00e9\", \"a\": [1, 2]}");
}

TEST(JinjaFilters, SelectRejectMapJoin) {
  EXPECT_EQ(
      Render(
          "{{ msgs|selectattr('role', 'equalto', 'user')|list|length }}|{{ msgs|rejectattr('role', "
          "'equalto', 'user')|map(attribute='content')|join(',') }}",
          R"json({"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]})json"),
      "2|b");
  EXPECT_EQ(Render("{{ tl|selectattr('type', 'equalto', 'code_interpreter')|list|length > 0 }}",
                   R"json({"tl": [{"type": "function"}, {"type": "code_interpreter"}]})json"),
            "True");
  EXPECT_RAISES(Render("{{ msgs|selectattr('role', 'equalto', 'user')|length }}",
                       R"json({"msgs": [{"role": "user"}]})json"));  // TypeError: object of type
                                                                     // 'generator' has no len()
  EXPECT_EQ(Render("{{ d|items|list }}|{% for k, v in d|items %}{{ k }}:{{ v }} {% endfor %}",
                   R"json({"d": {"b": 1, "a": 2}})json"),
            "[('b', 1), ('a', 2)]|b:1 a:2 ");
}

TEST(JinjaFilters, ItemsStringCase) {
  EXPECT_RAISES(
      Render("{{ missing|items|list }}|{{ 5|items|list }}"));  // TypeError: Can only get item pairs
                                                               // from a mapping.
  EXPECT_EQ(Render("{{ 42|string }}{{ none|string }}{{ [1]|string }}|{{ d|string }}",
                   R"json({"d": {"k": "v"}})json"),
            "42None[1]|{'k': 'v'}");
  EXPECT_EQ(Render("{{ 'Hello'|lower }} {{ 'Hello'|upper }} {{ 'hello world'|capitalize }} {{ "
                   "'hello wORLD-x'|title }}"),
            "hello HELLO Hello world Hello World-X");
  EXPECT_EQ(
      Render("{{ ['b', 'a']|join(', ') }}|{{ [1, 2]|join }}|{{ builtin_tools|reject('equalto', "
             "'code_interpreter')|join(', ') }}",
             R"json({"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]})json"),
      "b, a|12|brave_search, wolfram_alpha");
}

TEST(JinjaFilters, IndentSequencesNumbers) {
  EXPECT_EQ(Render("{{ '{\n\"a\": 1\n}'|indent(4) }}|{{ 'x\ny'|indent(2, first=true) }}|{{ "
                   "'x\n\ny'|indent(2, blank=true) }}"),
            "{\n    \"a\": 1\n    }|  x\n  y|x\n  \n  y");
  EXPECT_EQ(Render("{{ l|first }} {{ l|last }} {{ l|list }} {{ l|reverse|list }} {{ l|sort }} {{ "
                   "l|max }} {{ l|min }} {{ l|sum }} {{ l|unique|list }}",
                   R"json({"l": [3, 1, 3, 2]})json"),
            "3 2 [3, 1, 3, 2] [2, 3, 1, 3] [1, 2, 3, 3] 3 1 9 [3, 1, 2]");
  EXPECT_EQ(Render("{{ '42'|int + '1.5'|float }} {{ 'x'|int }} {{ 3.7|int }} {{ 2.5|round }} {{ "
                   "2.675|round(2) }} {{ -3|abs }}"),
            "43.5 0 3 2.0 2.67 3");
}

TEST(JinjaFilters, EscapingReplaceTruncateSorting) {
  EXPECT_EQ(
      Render(
          "{{ 'a<b>&\"c\\''|e }}|{{ '<b>'|safe }}|{{ '<' ~ ('<'|safe) }}|{{ ('<'|safe) + '<' }}"),
      "a&lt;b&gt;&amp;&#34;c&#39;|<b>|<<|<&lt;");
  EXPECT_EQ(Render("{{ 'a-b'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'one two "
                   "three'|wordcount }}|{{ 'a b c d e f g h'|truncate(9) }}"),
            "a+b|bba|3|a b c...");
  EXPECT_EQ(Render("{{ d|dictsort }}|{{ d|dictsort(by='value', reverse=true) }}",
                   R"json({"d": {"b": 1, "a": 2, "C": 0}})json"),
            "[('a', 2), ('b', 1), ('C', 0)]|[('a', 2), ('b', 1), ('C', 0)]");
  EXPECT_EQ(Render("{{ users|groupby('city')|map(attribute='grouper')|list }}",
                   R"json({"users": [{"city": "Oslo"}, {"city": "Lima"}, {"city": "oslo"}]})json"),
            "['Lima', 'Oslo']");
}

}  // namespace
}  // namespace autarky::chat
