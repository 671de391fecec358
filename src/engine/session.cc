// Session: incremental evaluation with context shift by re-evaluation.
//
// Shifting re-evaluates the kept tokens rather than rotating the cached keys to new positions
// (llama.cpp's approach): it costs one prompt pass per shift, but the result is exactly what a
// fresh run over the kept tokens gives, for every architecture and cache type.
#include "engine/session.h"

#include <string>

namespace autarky {

void Session::Truncate(int32_t n) {
  if (n >= 0 && n < n_past()) history_.resize(n);
}

Status Session::Append(std::span<const int32_t> tokens, bool all_logits,
                       std::vector<float>& logits) {
  const int64_t n_ctx = ctx_.n_ctx();
  const int64_t incoming = static_cast<int64_t>(tokens.size());
  if (n_past() + incoming > n_ctx) {
    const int64_t keep = options_.n_keep < n_past() ? options_.n_keep : n_past();
    if (!options_.context_shift || keep + incoming >= n_ctx) {
      return ErrorStatus("context full: " + std::to_string(n_past()) + " + " +
                         std::to_string(incoming) + " tokens do not fit the context of " +
                         std::to_string(n_ctx) + " tokens (raise --ctx-size" +
                         (options_.context_shift ? "" : " or use --context-shift") + ")");
    }
    // Drop half of the droppable tokens (at least enough for the new ones), oldest first.
    const int64_t droppable = n_past() - keep;
    int64_t drop = droppable / 2;
    const int64_t needed = n_past() + incoming - n_ctx;
    if (drop < needed) drop = needed;
    std::vector<int32_t> kept(history_.begin(), history_.begin() + keep);
    kept.insert(kept.end(), history_.begin() + keep + drop, history_.end());
    history_.clear();
    ++shifts_;
    if (!kept.empty()) {
      std::vector<float> unused;
      RETURN_IF_ERROR(ctx_.Eval(kept, options_.seq, 0, false, unused));
      history_ = std::move(kept);
    }
  }
  RETURN_IF_ERROR(ctx_.Eval(tokens, options_.seq, n_past(), all_logits, logits));
  history_.insert(history_.end(), tokens.begin(), tokens.end());
  return Status::Ok();
}

}  // namespace autarky
