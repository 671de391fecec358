// Publisher-recommended sampling values as defaults under the user's flags (model_defaults.h).
#include "sampling/model_defaults.h"

#include <cmath>
#include <cstdio>

namespace autarky {
namespace {

std::string Note(const char* what, double value, const char* key) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s %g (%s)", what, value, key);
  return buf;
}

}  // namespace

std::vector<std::string> ApplyModelSamplingHints(const ModelSamplingHints& hints,
                                                 const GivenSamplingFlags& given,
                                                 SamplingParams* params) {
  std::vector<std::string> notes;
  // A value outside what ValidateSamplingParams accepts comes from a broken or hostile file:
  // it is ignored with a note, so that the file's advice never stops a run the user's own
  // flags allow, nor makes its error name a flag the user did not give.
  auto take = [&](bool user_gave, const auto& hint, bool valid, auto* field, const char* what,
                  const char* key) {
    if (!hint || user_gave) return;
    if (!valid) {
      notes.push_back(Note(what, static_cast<double>(*hint), key) + " ignored: out of range");
      return;
    }
    *field = *hint;
    notes.push_back(Note(what, static_cast<double>(*hint), key));
  };
  auto finite = [](const std::optional<float>& v) { return v && std::isfinite(*v); };
  auto unit = [&](const std::optional<float>& v) { return finite(v) && *v >= 0.0f && *v <= 1.0f; };
  take(given.temperature, hints.temperature, finite(hints.temperature), &params->temperature,
       "temperature", "general.sampling.temp");
  take(given.top_k, hints.top_k, hints.top_k && *hints.top_k >= 0, &params->top_k, "top-k",
       "general.sampling.top_k");
  take(given.top_p, hints.top_p, unit(hints.top_p), &params->top_p, "top-p",
       "general.sampling.top_p");
  take(given.min_p, hints.min_p, unit(hints.min_p), &params->min_p, "min-p",
       "general.sampling.min_p");
  take(given.repeat_penalty, hints.repeat_penalty,
       finite(hints.repeat_penalty) && *hints.repeat_penalty > 0.0f, &params->repeat_penalty,
       "repeat penalty", "general.sampling.penalty_repeat");
  return notes;
}

}  // namespace autarky
