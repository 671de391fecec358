// ReasoningParser: hand-checked splits of R1/Qwen3-style outputs, identical whether the output
// arrives at once, byte by byte or cut anywhere into three pieces.
#include "chat/reasoning.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace autarky::chat {
namespace {

struct Case {
  const char* output;
  bool starts_open;
  const char* reasoning;
  const char* content;
};

const Case kCases[] = {
    {"<think>\nI should add.\n</think>\n\nIt is 4.", false, "I should add.", "It is 4."},
    {"Adding.\n</think>\n\nFour.", true, "Adding.", "Four."},
    {"Hello <think> world", false, "", "Hello <think> world"},
    {"  \n<think>x</think>y", false, "x", "y"},
    {"<think>partial </thi", false, "partial </thi", ""},
    {"<thin", false, "", "<thin"},
    {"<think>\n\n</think>\n\nHi", false, "", "Hi"},
    {"<think>a</think>b<think>c</think>", false, "a", "b<think>c</think>"},
    {"  Hi  ", false, "", "  Hi  "},
    {"<think>\xE6\x97\xA5\xE6\x9C\xAC</think>\xE8\xAA\x9E", false, "\xE6\x97\xA5\xE6\x9C\xAC",
     "\xE8\xAA\x9E"},
    {"<think>a \n b</think>", false, "a \n b", ""},
    {"</think>", true, "", ""},
    {"<think>a </b> c <</think>d", false, "a </b> c <", "d"},
    {"", false, "", ""},
    {"", true, "", ""},
    {"no thought at all", true, "no thought at all", ""},
    {"step one\n\nstep two   ", true, "step one\n\nstep two", ""},
    {"<think>x</think>\n\n  answer\n\n", false, "x", "answer\n\n"},
};

ReasoningDelta Stream(const std::string& text, const std::vector<size_t>& cuts, bool starts_open) {
  ReasoningOptions options;
  options.starts_open = starts_open;
  ReasoningParser parser(options);
  ReasoningDelta all;
  size_t begin = 0;
  auto add = [&](const ReasoningDelta& d) {
    all.reasoning += d.reasoning;
    all.content += d.content;
  };
  for (size_t cut : cuts) {
    add(parser.Push(text.substr(begin, cut - begin)));
    begin = cut;
  }
  add(parser.Push(text.substr(begin)));
  add(parser.Flush());
  return all;
}

TEST(Reasoning, WholeOutputs) {
  for (const Case& c : kCases) {
    ReasoningOptions options;
    options.starts_open = c.starts_open;
    const ReasoningDelta d = SplitReasoning(c.output, options);
    EXPECT_EQ(d.reasoning, c.reasoning) << c.output;
    EXPECT_EQ(d.content, c.content) << c.output;
  }
}

TEST(Reasoning, EverySplitIntoThreePiecesGivesTheSameResult) {
  for (const Case& c : kCases) {
    const std::string text = c.output;
    for (size_t i = 0; i <= text.size(); ++i) {
      for (size_t j = i; j <= text.size(); ++j) {
        const ReasoningDelta d = Stream(text, {i, j}, c.starts_open);
        ASSERT_EQ(d.reasoning, c.reasoning) << c.output << " cut at " << i << ", " << j;
        ASSERT_EQ(d.content, c.content) << c.output << " cut at " << i << ", " << j;
      }
    }
  }
}

TEST(Reasoning, ByteByByteNeverReleasesATagEarly) {
  const std::string text = "<think>\nLet me see.  \n</think>\n\nDone";
  ReasoningParser parser;
  std::string reasoning, content;
  for (char c : text) {
    const ReasoningDelta d = parser.Push(std::string(1, c));
    reasoning += d.reasoning;
    content += d.content;
    // At no point does released text contain part of a tag or the whitespace around it.
    EXPECT_EQ(reasoning.find('<'), std::string::npos) << reasoning;
    EXPECT_TRUE(reasoning.empty() || reasoning.back() != ' ') << reasoning;
    EXPECT_EQ(content.find('\n'), std::string::npos) << content;
  }
  EXPECT_EQ(reasoning, "Let me see.");
  EXPECT_EQ(content, "Done");
  EXPECT_TRUE(parser.Flush().empty());
}

TEST(Reasoning, InReasoningFollowsTheTags) {
  ReasoningParser parser;
  EXPECT_FALSE(parser.in_reasoning());
  parser.Push("<think>a");
  EXPECT_TRUE(parser.in_reasoning());
  parser.Push("</think>b");
  EXPECT_FALSE(parser.in_reasoning());
}

TEST(Reasoning, OtherTags) {
  ReasoningOptions options;
  options.open_tag = "<reasoning>";
  options.close_tag = "</reasoning>";
  const ReasoningDelta d = SplitReasoning("<reasoning>r</think></reasoning>c", options);
  EXPECT_EQ(d.reasoning, "r</think>");
  EXPECT_EQ(d.content, "c");
}

TEST(Reasoning, PromptOpensThought) {
  EXPECT_TRUE(
      PromptOpensThought("<\xEF\xBD\x9C"
                         "Assistant\xEF\xBD\x9C><think>\n"));
  EXPECT_TRUE(PromptOpensThought("<think>"));
  EXPECT_FALSE(PromptOpensThought("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(PromptOpensThought("<|im_start|>assistant\n"));
  EXPECT_FALSE(PromptOpensThought("<think> and then text"));
  EXPECT_FALSE(PromptOpensThought(""));
}

}  // namespace
}  // namespace autarky::chat
