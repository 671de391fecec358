// StopStringMatcher: finds a request's stop strings in streamed generated text and holds back
// the text that could still turn out to be the start of one, so a client never sees any part of
// a stop string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autarky {

class StopStringMatcher {
 public:
  // Empty strings in `stops` are ignored (an empty stop would end every generation at once).
  explicit StopStringMatcher(std::vector<std::string> stops = {});

  struct Output {
    std::string text;      // text safe to release now
    bool stopped = false;  // a stop string was found: `text` ends right before it
  };

  // Appends generated text. Returns the text that can no longer be part of a stop string; once
  // a stop string has matched, everything from it on is dropped (and later pushes return
  // nothing).
  Output Push(std::string_view text);
  // The end of generation: releases the held-back text (it did not become a stop string).
  std::string Flush();

  bool stopped() const { return stopped_; }
  size_t held() const { return pending_.size(); }

 private:
  std::vector<std::string> stops_;
  size_t longest_ = 0;
  std::string pending_;  // text not released yet: always shorter than the longest stop string
  bool stopped_ = false;
};

}  // namespace autarky
