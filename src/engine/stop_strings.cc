// StopStringMatcher: earliest match over all stop strings, hold-back of partial matches.
#include "engine/stop_strings.h"

#include <utility>

namespace autarky {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (std::string& stop : stops) {
    if (stop.empty()) continue;
    if (stop.size() > longest_) longest_ = stop.size();
    stops_.push_back(std::move(stop));
  }
}

StopStringMatcher::Output StopStringMatcher::Push(std::string_view text) {
  Output out;
  if (stopped_) return out;
  if (stops_.empty()) {
    out.text.assign(text);
    return out;
  }
  pending_.append(text);
  // Earliest start over all stop strings: the client must see nothing of the first one.
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at < first) first = at;
  }
  if (first != std::string::npos) {
    out.text = pending_.substr(0, first);
    out.stopped = stopped_ = true;
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that some stop string starts with. Stop strings and generated
  // text are valid UTF-8 and a stop string starts with a whole character, so the cut is always
  // at a character boundary.
  size_t hold = 0;
  const size_t max_hold = pending_.size() < longest_ ? pending_.size() : longest_ - 1;
  for (size_t n = max_hold; n > 0 && hold == 0; --n) {
    const std::string_view tail(pending_.data() + pending_.size() - n, n);
    for (const std::string& stop : stops_) {
      if (stop.size() > n && std::string_view(stop).substr(0, n) == tail) {
        hold = n;
        break;
      }
    }
  }
  out.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopStringMatcher::Flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace autarky
