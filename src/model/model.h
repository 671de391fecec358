// Model: an architecture's hyper-parameters, its weights (views into the memory-mapped file) and
// its forward pass; LoadModel picks the architecture from `general.architecture` through the
// ArchSpec registry (arch_registry.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "io/gguf_reader.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "util/status.h"

namespace autarky {

class ThreadPool;

// What every architecture reports about itself.
struct ModelInfo {
  std::string arch;          // general.architecture, e.g. "qwen2"
  std::string name;          // general.name when present
  int32_t n_vocab = 0;       // rows of the output projection
  int32_t n_ctx_train = 0;   // {arch}.context_length
  int32_t n_layer = 0;
  int32_t n_embd = 0;
  int64_t n_params = 0;      // elements of all tensors
  uint64_t weight_bytes = 0; // bytes of all tensors
};

// Per-context scratch of a forward pass (activations), sized for a largest batch. Created by the
// model (its shapes are architecture-specific); reused across calls so a forward pass allocates
// nothing once warm.
class ForwardScratch {
 public:
  virtual ~ForwardScratch() = default;
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
  virtual void Forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch,
                       ThreadPool& pool, float* logits) const = 0;

 protected:
  explicit Model(std::shared_ptr<const GgufFile> file) : file_(std::move(file)) {
    FillFileInfo();
  }
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

// Loads the model in `file` (weights stay in its mapping). Errors name the file and the tensor
// or key at fault.
Result<std::unique_ptr<Model>> LoadModel(std::shared_ptr<const GgufFile> file);
// Opens and loads `path` (mapped, or copied into huge-page memory with FileLoad::kCopy).
Result<std::unique_ptr<Model>> LoadModel(const std::string& path,
                                         FileLoad mode = FileLoad::kMap);

}  // namespace autarky
