// The shared first step of mapping Hugging Face tensor names to GGUF's, for every architecture
// the folder loaders know: the three model-wide tensors, and "model.layers.N.REST" split apart.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace autarky {

struct HfTensorName {
  std::string global;  // the GGUF name of a model-wide tensor (embedding, final norm, output)
  std::string layer;   // else, for "model.layers.N.REST": N (digits only) ...
  std::string rest;    // ... and REST
};

// False when `hf` is neither a model-wide tensor nor a layer tensor.
inline bool SplitHfTensorName(const std::string& hf, HfTensorName* out) {
  if (hf == "model.embed_tokens.weight") {
    out->global = "token_embd.weight";
  } else if (hf == "model.norm.weight") {
    out->global = "output_norm.weight";
  } else if (hf == "lm_head.weight") {
    out->global = "output.weight";
  } else {
    static constexpr std::string_view kLayers = "model.layers.";
    if (hf.rfind(kLayers, 0) != 0) return false;
    const size_t dot = hf.find('.', kLayers.size());
    if (dot == std::string::npos) return false;
    out->layer = hf.substr(kLayers.size(), dot - kLayers.size());
    if (out->layer.empty() || !std::all_of(out->layer.begin(), out->layer.end(),
                                           [](unsigned char c) { return std::isdigit(c) != 0; })) {
      return false;
    }
    out->rest = hf.substr(dot + 1);
  }
  return true;
}

}  // namespace autarky
