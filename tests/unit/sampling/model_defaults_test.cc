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

// A broken file's advice is ignored (and said so) instead of failing validation under a flag
// the user never gave; the valid values beside it are still taken.
TEST(ModelSamplingDefaults, OutOfRangeValuesAreIgnored) {
  SamplingParams p;
  const SamplingParams before = p;
  ModelSamplingHints h;
  h.temperature = 0.7f;
  h.top_k = -3;
  h.top_p = 1.5f;
  h.min_p = -0.1f;
  h.repeat_penalty = 0.0f;
  const auto notes = ApplyModelSamplingHints(h, GivenSamplingFlags{}, &p);
  EXPECT_EQ(p.temperature, 0.7f);
  EXPECT_EQ(p.top_k, before.top_k);
  EXPECT_EQ(p.top_p, before.top_p);
  EXPECT_EQ(p.min_p, before.min_p);
  EXPECT_EQ(p.repeat_penalty, before.repeat_penalty);
  EXPECT_TRUE(ValidateSamplingParams(p, 100).ok());
  ASSERT_EQ(notes.size(), 5u);
  EXPECT_EQ(notes[1], "top-k -3 (general.sampling.top_k) ignored: out of range");
  EXPECT_EQ(notes[4], "repeat penalty 0 (general.sampling.penalty_repeat) ignored: out of range");
}

}  // namespace
}  // namespace autarky
