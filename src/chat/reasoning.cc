// ReasoningParser: a small state machine over the streamed output (see reasoning.h).
#include "chat/reasoning.h"

#include <utility>

namespace autarky::chat {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t FirstNonSpace(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsSpace(s[i])) return i;
  }
  return std::string_view::npos;
}

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

ReasoningParser::ReasoningParser(ReasoningOptions options)
    : options_(std::move(options)),
      state_(options_.starts_open ? State::kReasoning : State::kStart) {}

ReasoningDelta ReasoningParser::Push(std::string_view text) {
  ReasoningDelta out;
  buffer_.append(text);
  Step(out, false);
  return out;
}

ReasoningDelta ReasoningParser::Flush() {
  ReasoningDelta out;
  Step(out, true);
  return out;
}

void ReasoningParser::Step(ReasoningDelta& out, bool final) {
  auto emit_reasoning = [&](std::string_view text) {
    if (!reasoning_started_) {
      const size_t first = FirstNonSpace(text);
      if (first == std::string_view::npos) return;
      text.remove_prefix(first);
      reasoning_started_ = true;
    }
    out.reasoning.append(text);
  };
  const std::string& open = options_.open_tag;
  const std::string& close = options_.close_tag;
  for (;;) {
    switch (state_) {
      case State::kStart: {
        const size_t first = FirstNonSpace(buffer_);
        if (first == std::string::npos) {
          if (final) {
            out.content += buffer_;
            buffer_.clear();
          }
          return;
        }
        const std::string_view rest = std::string_view(buffer_).substr(first);
        if (rest.starts_with(open)) {
          buffer_.erase(0, first + open.size());
          state_ = State::kReasoning;
          continue;
        }
        if (!final && std::string_view(open).starts_with(rest)) return;  // maybe the tag
        state_ = State::kContent;  // not a thought: all of it is the answer, spaces included
        continue;
      }
      case State::kReasoning: {
        const size_t at = buffer_.find(close);
        if (at != std::string::npos) {
          emit_reasoning(TrimTrailingSpace(std::string_view(buffer_).substr(0, at)));
          buffer_.erase(0, at + close.size());
          state_ = State::kAfterThought;
          continue;
        }
        if (final) {
          emit_reasoning(TrimTrailingSpace(buffer_));
          buffer_.clear();
          return;
        }
        // Hold back a tail that may begin the close tag, and the whitespace before it (which
        // is dropped if the tag follows).
        size_t hold = 0;
        const size_t max_hold = buffer_.size() < close.size() ? buffer_.size() : close.size() - 1;
        for (size_t n = max_hold; n > 0; --n) {
          if (std::string_view(close).starts_with(
                  std::string_view(buffer_).substr(buffer_.size() - n))) {
            hold = n;
            break;
          }
        }
        while (hold < buffer_.size() && IsSpace(buffer_[buffer_.size() - hold - 1])) ++hold;
        emit_reasoning(std::string_view(buffer_).substr(0, buffer_.size() - hold));
        buffer_.erase(0, buffer_.size() - hold);
        return;
      }
      case State::kAfterThought: {
        const size_t first = FirstNonSpace(buffer_);
        if (first == std::string::npos) {
          buffer_.clear();
          return;
        }
        buffer_.erase(0, first);
        state_ = State::kContent;
        continue;
      }
      case State::kContent:
        out.content += buffer_;
        buffer_.clear();
        return;
    }
  }
}

ReasoningDelta SplitReasoning(std::string_view text, const ReasoningOptions& options) {
  ReasoningParser parser(options);
  ReasoningDelta out = parser.Push(text);
  ReasoningDelta rest = parser.Flush();
  out.reasoning += rest.reasoning;
  out.content += rest.content;
  return out;
}

bool PromptOpensThought(std::string_view prompt, const ReasoningOptions& options) {
  return TrimTrailingSpace(prompt).ends_with(options.open_tag);
}

}  // namespace autarky::chat
