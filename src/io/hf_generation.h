// generation_config.json of a Hugging Face folder -> the GGUF keys llama.cpp uses for a model's
// recommended sampling (general.sampling.temp / top_k / top_p / min_p / penalty_repeat).
#pragma once

#include <string>

#include "io/gguf_writer.h"
#include "util/status.h"

namespace autarky {

// Reads `dir`/generation_config.json when present (nothing to do otherwise). do_sample=false
// means greedy decoding, written as temperature 0; then no other value is written. A value of
// the wrong type or out of range is an error naming the file and field.
Status GenerationConfigToMetadata(const std::string& dir, GgufWriter& w);

}  // namespace autarky
