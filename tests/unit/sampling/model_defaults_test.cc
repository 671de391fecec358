// Model-recommended sampling defaults: each value the model carries replaces the built-in
// default unless the user gave that flag; the notes name exactly the values taken.
#include "sampling/model_defaults.h"

#include <gtest/gtest.h>

namespace autarky {
namespace {

ModelSamplingHints AllHints() {
  ModelSamplingHints h;
  h.temperature = 0.6f;
  h.top_k = 20;
  h.top_p = 0.95f;
  h.min_p = 0.0f;
  h.repeat_penalty = 1.05f;
  return h;
}

TEST(ModelSamplingDefaults, ModelValuesReplaceBuiltInDefaults) {
  SamplingParams p;
  const auto notes = ApplyModelSamplingHints(AllHints(), GivenSamplingFlags{}, &p);
  EXPECT_EQ(p.temperature, 0.6f);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_EQ(p.top_p, 0.95f);
  EXPECT_EQ(p.min_p, 0.0f);
  EXPECT_EQ(p.repeat_penalty, 1.05f);
  ASSERT_EQ(notes.size(), 5u);
  EXPECT_EQ(notes[0], "temperature 0.6 (general.sampling.temp)");
  EXPECT_EQ(notes[1], "top-k 20 (general.sampling.top_k)");
}

TEST(ModelSamplingDefaults, UserFlagsWin) {
  SamplingParams p;
  p.temperature = 1.3f;  // as if parsed from --temp 1.3
  p.top_k = 7;           // --top-k 7
  GivenSamplingFlags given;
  given.temperature = true;
  given.top_k = true;
  const auto notes = ApplyModelSamplingHints(AllHints(), given, &p);
  EXPECT_EQ(p.temperature, 1.3f);
  EXPECT_EQ(p.top_k, 7);
  EXPECT_EQ(p.top_p, 0.95f);
  EXPECT_EQ(notes.size(), 3u);
}

TEST(ModelSamplingDefaults, AbsentHintsKeepBuiltInDefaults) {
  SamplingParams p;
  const SamplingParams before = p;
  ModelSamplingHints h;
  h.temperature = 0.0f;  // do_sample=false: greedy
  const auto notes = ApplyModelSamplingHints(h, GivenSamplingFlags{}, &p);
  EXPECT_EQ(p.temperature, 0.0f);
  EXPECT_EQ(p.top_k, before.top_k);
  EXPECT_EQ(p.top_p, before.top_p);
  EXPECT_EQ(p.min_p, before.min_p);
  EXPECT_EQ(p.repeat_penalty, before.repeat_penalty);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "temperature 0 (general.sampling.temp)");
}

}  // namespace
}  // namespace autarky
