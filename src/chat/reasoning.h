// ReasoningParser: splits a reasoning model's output into the thought (<think>...</think>) and
// the answer, as DeepSeek's API returns them (`reasoning_content` and `content`), while the text
// streams in: nothing of a tag ever reaches either side, whatever the split into pieces.
//
//   ReasoningParser parser({.starts_open = prompt_opened_think});
//   for each piece: ReasoningDelta d = parser.Push(piece);  // d.reasoning, d.content
//   ReasoningDelta last = parser.Flush();
//
// Rules (those of the DeepSeek R1 family and Qwen3):
//  - Only a thought at the very start of the output counts (leading whitespace allowed); when
//    the output starts with anything else, all of it is content, tags included.
//  - With starts_open (the chat template wrote "<think>\n" at the end of the prompt, as the R1
//    templates do) the output starts mid-thought.
//  - Whitespace around the thought is not part of either side: the reasoning loses its leading
//    and trailing whitespace, the content its leading whitespace after </think> ("\n\n").
//  - After the first </think>, everything is content; an unclosed thought is all reasoning.
#pragma once

#include <string>
#include <string_view>

namespace autarky::chat {

struct ReasoningOptions {
  std::string open_tag = "<think>";
  std::string close_tag = "</think>";
  bool starts_open = false;
};

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

class ReasoningParser {
 public:
  explicit ReasoningParser(ReasoningOptions options = {});

  // The text that can be attributed now; a possible partial tag or whitespace whose side is
  // not known yet is held back.
  ReasoningDelta Push(std::string_view text);
  // The end of the output: releases what was held back.
  ReasoningDelta Flush();

  // True while the output is inside the thought.
  bool in_reasoning() const { return state_ == State::kReasoning; }

 private:
  enum class State { kStart, kReasoning, kAfterThought, kContent };
  void Step(ReasoningDelta& out, bool final);

  ReasoningOptions options_;
  State state_;
  std::string buffer_;              // held back
  bool reasoning_started_ = false;  // non-whitespace reasoning has been released
};

// The thought and answer of a whole output at once.
ReasoningDelta SplitReasoning(std::string_view text, const ReasoningOptions& options = {});

// Whether a rendered prompt ends inside an open thought: its last tag is open_tag (followed by
// whitespace only), e.g. the R1 templates' "<｜Assistant｜><think>\n".
bool PromptOpensThought(std::string_view prompt, const ReasoningOptions& options = {});

}  // namespace autarky::chat
