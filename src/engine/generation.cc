// GenerationStream: the hand-over of events from the scheduler thread to a request's reader.
#include "engine/generation.h"

#include <utility>

namespace autarky {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

GenerationStream::Wait GenerationStream::Next(GenerationEvent* out,
                                              std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  *out = GenerationEvent();
  if (delivered_) return Wait::kTimeout;
  if (!ready_.wait_for(lock, timeout, [&] { return has_pending_; })) return Wait::kTimeout;
  *out = std::move(pending_);
  pending_ = GenerationEvent();
  has_pending_ = false;
  if (finished_) delivered_ = true;
  return Wait::kEvent;
}

void GenerationStream::Cancel() { cancelled_.store(true, std::memory_order_release); }

bool GenerationStream::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_;
}

void GenerationStream::Push(GenerationEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;  // nothing follows the final event
    pending_.text += event.text;
    for (GeneratedToken& token : event.tokens) pending_.tokens.push_back(std::move(token));
    if (event.finish != FinishReason::kNone) {
      pending_.finish = event.finish;
      pending_.error = std::move(event.error);
      pending_.usage = event.usage;
      finished_ = true;
    }
    has_pending_ = true;
  }
  ready_.notify_all();
}

}  // namespace autarky
