// Publisher-recommended sampling values as defaults under the user's flags (model_defaults.h).
#include "sampling/model_defaults.h"

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
  if (hints.temperature && !given.temperature) {
    params->temperature = *hints.temperature;
    notes.push_back(Note("temperature", *hints.temperature, "general.sampling.temp"));
  }
  if (hints.top_k && !given.top_k) {
    params->top_k = *hints.top_k;
    notes.push_back(Note("top-k", *hints.top_k, "general.sampling.top_k"));
  }
  if (hints.top_p && !given.top_p) {
    params->top_p = *hints.top_p;
    notes.push_back(Note("top-p", *hints.top_p, "general.sampling.top_p"));
  }
  if (hints.min_p && !given.min_p) {
    params->min_p = *hints.min_p;
    notes.push_back(Note("min-p", *hints.min_p, "general.sampling.min_p"));
  }
  if (hints.repeat_penalty && !given.repeat_penalty) {
    params->repeat_penalty = *hints.repeat_penalty;
    notes.push_back(
        Note("repeat penalty", *hints.repeat_penalty, "general.sampling.penalty_repeat"));
  }
  return notes;
}

}  // namespace autarky
