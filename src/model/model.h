// Model: an architecture's hyper-parameters, its weights (views into the memory-mapped file) and
// its forward pass; LoadModel picks the architecture from `general.architecture` through the
// ArchSpec registry (arch_registry.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/gguf_reader.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "util/status.h"

namespace autarky {

class ThreadPool;

// What every architecture reports about itself.
struct ModelInfo {
  std::string arch;         // general.architecture, e.g. "qwen2"
  std::string name;         // general.name when present
  int32_t n_vocab = 0;      // rows of the output projection
  int32_t n_ctx_train = 0;  // {arch}.context_length
  int32_t n_layer = 0;
  int32_t n_embd = 0;
  int64_t n_params = 0;       // elements of all tensors
  uint64_t weight_bytes = 0;  // bytes of all tensors
};

// How many tokens each routed expert served, per Mixture-of-Experts layer: counted by Forward
// while a context has it enabled (InferenceContext::EnableExpertUsage), printed by --verbose.
struct ExpertUsage {
  int n_expert = 0;                    // routed experts per layer
  int n_used = 0;                      // experts chosen per token
  std::vector<int> layers;             // the model layer of each MoE layer
  std::vector<uint64_t> expert_bytes;  // {layers} bytes of one expert's gate, up and down
  std::vector<uint64_t> counts;        // {layers, n_expert} tokens served
  uint64_t* Layer(size_t i) { return &counts[i * n_expert]; }
  const uint64_t* Layer(size_t i) const { return &counts[i * n_expert]; }
};

// A compact summary, one line per MoE layer (min/median/max tokens per expert, the busiest
// experts, experts touched) and the share of expert weight bytes touched; empty without MoE.
std::string FormatExpertUsage(const ExpertUsage& usage);

// Per-context scratch of a forward pass (activations), sized for a largest batch. Created by the
// model (its shapes are architecture-specific); reused across calls so a forward pass allocates
// nothing once warm.
class ForwardScratch {
 public:
  virtual ~ForwardScratch() = default;
  // Counted into by Forward when set (MoE models only); null costs nothing.
  ExpertUsage* expert_usage = nullptr;
};

class Model {
 public:
  virtual ~Model() = default;

  const ModelInfo& info() const { return info_; }
  const GgufFile& file() const { return *file_; }

  // The cache layout this architecture needs: per layer, values per token for keys and values.
  virtual KvCacheShape CacheShape() const = 0;
  // Scratch for batches of up to `max_tokens` tokens of which up to `max_logits` want logits.
  virtual std::unique_ptr<ForwardScratch> NewScratch(int64_t max_tokens,
                                                     int64_t max_logits) const = 0;

  // Runs `batch` (at most the scratch's max_tokens): writes each token's keys/values into `kv`
  // at its (seq, position), attends causally over positions 0..position of its sequence, and
  // writes the logits of the tokens with want_logits, in batch order, to
  // logits {batch.CountLogits(), n_vocab}. The caller guarantees that positions
  // 0..position-1 of each sequence are in the cache or earlier in the batch, and that
  // position < kv.n_ctx(). Results do not depend on the thread count or on how a sequence is
  // split into batches.
  virtual void Forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch, ThreadPool& pool,
                       float* logits) const = 0;

  // A zeroed usage table for this model's MoE layers (no layers for a dense model).
  virtual ExpertUsage NewExpertUsage() const { return {}; }

 protected:
  explicit Model(std::shared_ptr<const GgufFile> file) : file_(std::move(file)) { FillFileInfo(); }
  // arch, name, n_params and weight_bytes from the file; the architecture fills the rest.
  void FillFileInfo();
  ModelInfo info_;
  std::shared_ptr<const GgufFile> file_;
};

// One architecture family: the `general.architecture` values it serves and its loader.
struct ArchSpec {
  std::span<const std::string_view> arch_names;
  Result<std::unique_ptr<Model>> (*load)(std::shared_ptr<const GgufFile> file,
                                         std::string_view arch);
};

// The registry (arch_registry.cc): every ArchSpec, in lookup order.
std::span<const ArchSpec* const> AllArchSpecs();
// The ArchSpec serving `arch`, nullptr if none.
const ArchSpec* FindArchSpec(std::string_view arch);

// A hyper-parameter read from `key` must lie in [lo, hi]; the error names the file and key.
Status CheckRange(const GgufFile& file, const std::string& key, int64_t value, int64_t lo,
                  int64_t hi);

// Loads the model in `file` (weights stay in its mapping). Errors name the file and the tensor
// or key at fault.
Result<std::unique_ptr<Model>> LoadModel(std::shared_ptr<const GgufFile> file);
// Opens and loads `path` (mapped, or copied into huge-page memory with FileLoad::kCopy).
Result<std::unique_ptr<Model>> LoadModel(const std::string& path, FileLoad mode = FileLoad::kMap);

}  // namespace autarky
