// WriteRandomModel: hyper-parameters and vocabulary as metadata, then every tensor generated in
// parallel chunks and streamed to the GGUF writer.
#include "tools/random_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "kernels/quantize.h"
#include "sampling/rng.h"
#include "tokenizer/vocab.h"
#include "tools/quantize_plan.h"
#include "util/fp16.h"
#include "util/progress.h"
#include "util/strings.h"
#include "util/thread_pool.h"

namespace autarky::tools {
namespace {

// Elements drawn from one generator: the unit of determinism (independent of threads) and of
// parallel work.
constexpr int64_t kChunkElements = int64_t{1} << 16;
// Chunks generated per slice handed to the writer (4 MiB of floats).
constexpr int64_t kSliceChunks = 16;
// Dimensions above this are refused: they keep every product of two within int64 and are far
// above any real model's.
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;
// SentencePiece-style vocabularies need <unk>, <s>, </s> and the 256 byte tokens.
constexpr int64_t kSpecialTokens = 3;
constexpr int64_t kMinSelfMadeVocab = kSpecialTokens + 256;
// tokenizer.ggml.token_type values, as the file stores them.
constexpr int32_t TypeId(TokenType type) { return static_cast<int32_t>(type); }
// llama.cpp's file types (llama_ftype) of all-float models.
constexpr uint32_t kFileTypeF32 = 0;
constexpr uint32_t kFileTypeF16 = 1;
constexpr uint32_t kFileTypeBF16 = 32;

// How a tensor's values are drawn.
enum class Fill {
  kMatrix,  // zero mean, std 1/sqrt(row length): keeps activations O(1) through each matmul
  kNorm,    // 1 + 0.1 z: near the identity, but not exactly, so a missing norm shows
  kBias,    // 0.2 z: small next to the O(1) projections, large enough to matter
};

// A part of attn_kv_b written as its own tensor (RandomModelOptions::split_kv_b).
enum class KvBPart { kNone, kKeys, kValues };

struct TensorSpec {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the row
  DType type;
  Fill fill;
  std::vector<float> values;           // fixed contents (rope_freqs) instead of random ones
  KvBPart kv_b_part = KvBPart::kNone;  // values taken from the layer's attn_kv_b
  int64_t elements() const {
    int64_t n = 1;
    for (const int64_t d : dims) n *= d;
    return n;
  }
};

uint64_t NameHash(std::string_view name) {  // FNV-1a
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// A standardized bell-shaped variate from 64 random bits: the sum of four 16-bit uniforms
// (Irwin-Hall, mean 2, variance 1/3) centred and scaled to unit variance. Plain arithmetic
// (no libm), so every platform produces the same floats.
float StandardVariate(uint64_t bits) {
  double sum = 2.0;  // the four +0.5 centring offsets
  for (int i = 0; i < 4; ++i) sum += static_cast<double>((bits >> (16 * i)) & 0xffff);
  constexpr double kSqrt3 = 1.7320508075688772;
  return static_cast<float>((sum / 65536.0 - 2.0) * kSqrt3);
}

void GenerateChunk(const TensorSpec& spec, uint64_t seed, int64_t chunk, float* out, int64_t n) {
  if (!spec.values.empty()) {
    std::copy_n(spec.values.data() + chunk * kChunkElements, n, out);
    return;
  }
  Xoshiro256 rng(SplitMix64(seed ^ NameHash(spec.name)).Next() + static_cast<uint64_t>(chunk));
  float scale = 1.0f;
  float offset = 0.0f;
  switch (spec.fill) {
    case Fill::kMatrix:
      scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec.dims[0])));
      break;
    case Fill::kNorm:
      scale = 0.1f;
      offset = 1.0f;
      break;
    case Fill::kBias:
      scale = 0.2f;
      break;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = offset + scale * StandardVariate(rng.Next());
}

// The floats of a slice in the tensor's type, appended to `bytes`.
void Encode(DType type, const float* values, int64_t n, uint8_t* bytes) {
  if (type == DType::kF32) {
    std::memcpy(bytes, values, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  uint16_t* out = reinterpret_cast<uint16_t*>(bytes);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = type == DType::kF16 ? Fp32ToFp16(values[i]) : Fp32ToBf16(values[i]);
  }
}

size_t ElementBytes(DType type) { return type == DType::kF32 ? 4 : 2; }

bool IsFloatType(DType type) {
  return type == DType::kF32 || type == DType::kF16 || type == DType::kBF16;
}

// llama.cpp's general.quantization_version of the block formats.
constexpr uint32_t kQuantizationVersion = 2;

// Gives each spec the type of the mix's rule and puts the specs in llama-quantize's order.
Status ApplyQuantMix(const RandomModelOptions& o, std::vector<TensorSpec>& specs) {
  std::vector<TensorToPlan> to_plan;
  for (const TensorSpec& s : specs) to_plan.push_back({s.name, s.type, s.dims});
  ModelFacts facts;
  facts.arch = o.arch;
  facts.n_layer = o.n_layer;
  facts.n_head = o.n_head;
  facts.n_head_kv = o.n_head_kv > 0 ? o.n_head_kv : o.n_head;
  facts.n_expert = o.arch == "deepseek2" ? o.n_expert : 0;
  QuantPlanOptions plan_options;
  plan_options.mix = FindQuantMix(o.quant_mix);
  ASSIGN_OR_RETURN(std::vector<PlannedTensor> plan, PlanQuantization(to_plan, facts, plan_options));
  std::vector<TensorSpec> planned;
  for (const PlannedTensor& p : plan) {
    if (!IsFloatType(p.target) && !kernels::CanQuantize(p.target)) {
      return ErrorStatus("random-model: cannot produce " + std::string(DTypeName(p.target)) +
                         " for " + specs[p.index].name);
    }
    planned.push_back(std::move(specs[p.index]));
    planned.back().type = p.target;
  }
  specs = std::move(planned);
  return Status::Ok();
}

// Appends `n` floats of a tensor to `pending`, quantizes and writes its complete rows (split
// over the pool), and keeps the incomplete rest for the next slice.
Status QuantizeWholeRows(const TensorSpec& spec, const float* values, int64_t n,
                         std::vector<float>& pending, std::vector<uint8_t>& bytes, ThreadPool& pool,
                         GgufWriter& writer, uint64_t& done) {
  const int64_t row = spec.dims[0];
  const size_t row_bytes = *RowBytes(spec.type, row);
  pending.insert(pending.end(), values, values + n);
  const int64_t rows = static_cast<int64_t>(pending.size()) / row;  // {rows, row} complete
  if (rows == 0) return Status::Ok();
  const size_t out_bytes = static_cast<size_t>(rows) * row_bytes;
  if (bytes.size() < out_bytes) bytes.resize(out_bytes);
  constexpr int64_t kTaskElements = int64_t{1} << 16;
  const int64_t task_rows = std::max<int64_t>(1, kTaskElements / row);
  pool.ParallelFor((rows + task_rows - 1) / task_rows, [&](int64_t task, int /*thread*/) {
    const int64_t r0 = task * task_rows, r1 = std::min(rows, r0 + task_rows);
    kernels::QuantizeRows(spec.type, &pending[r0 * row], bytes.data() + r0 * row_bytes, r1 - r0,
                          row);
  });
  RETURN_IF_ERROR(writer.AppendTensorData({bytes.data(), out_bytes}));
  done += out_bytes;
  pending.erase(pending.begin(), pending.begin() + rows * row);
  return Status::Ok();
}

// deepseek2: MLA attention and, after the leading dense layers, routed + shared experts, with
// the tensor names and ggml shapes of llama.cpp's converter (attn_kv_b not split).
std::vector<TensorSpec> PlanDeepseek2Tensors(const RandomModelOptions& o, int64_t n_vocab) {
  const int64_t qk_head = o.qk_nope_dim + o.qk_rope_dim;
  std::vector<TensorSpec> specs;
  auto add = [&](std::string name, std::vector<int64_t> dims, Fill fill) {
    const DType type = dims.size() >= 2 ? o.type : DType::kF32;
    specs.push_back({std::move(name), std::move(dims), type, fill, {}});
  };
  add("token_embd.weight", {o.n_embd, n_vocab}, Fill::kMatrix);
  for (int64_t layer = 0; layer < o.n_layer; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    add(blk + "attn_norm.weight", {o.n_embd}, Fill::kNorm);
    if (o.q_lora_rank > 0) {
      add(blk + "attn_q_a.weight", {o.n_embd, o.q_lora_rank}, Fill::kMatrix);
      add(blk + "attn_q_a_norm.weight", {o.q_lora_rank}, Fill::kNorm);
      add(blk + "attn_q_b.weight", {o.q_lora_rank, o.n_head * qk_head}, Fill::kMatrix);
    } else {
      add(blk + "attn_q.weight", {o.n_embd, o.n_head * qk_head}, Fill::kMatrix);
    }
    add(blk + "attn_kv_a_mqa.weight", {o.n_embd, o.kv_lora_rank + o.qk_rope_dim}, Fill::kMatrix);
    add(blk + "attn_kv_a_norm.weight", {o.kv_lora_rank}, Fill::kNorm);
    if (o.split_kv_b) {
      add(blk + "attn_k_b.weight", {o.qk_nope_dim, o.kv_lora_rank, o.n_head}, Fill::kMatrix);
      specs.back().kv_b_part = KvBPart::kKeys;
      add(blk + "attn_v_b.weight", {o.kv_lora_rank, o.v_head_dim, o.n_head}, Fill::kMatrix);
      specs.back().kv_b_part = KvBPart::kValues;
    } else {
      add(blk + "attn_kv_b.weight", {o.kv_lora_rank, o.n_head * (o.qk_nope_dim + o.v_head_dim)},
          Fill::kMatrix);
    }
    add(blk + "attn_output.weight", {o.n_head * o.v_head_dim, o.n_embd}, Fill::kMatrix);
    add(blk + "ffn_norm.weight", {o.n_embd}, Fill::kNorm);
    if (layer < o.n_dense_lead) {
      add(blk + "ffn_gate.weight", {o.n_embd, o.n_ff}, Fill::kMatrix);
      add(blk + "ffn_up.weight", {o.n_embd, o.n_ff}, Fill::kMatrix);
      add(blk + "ffn_down.weight", {o.n_ff, o.n_embd}, Fill::kMatrix);
      continue;
    }
    // The router stays F32, as the converter keeps it.
    specs.push_back(
        {blk + "ffn_gate_inp.weight", {o.n_embd, o.n_expert}, DType::kF32, Fill::kMatrix, {}});
    if (o.expert_gating == 2) add(blk + "exp_probs_b.bias", {o.n_expert}, Fill::kBias);
    add(blk + "ffn_gate_exps.weight", {o.n_embd, o.n_ff_exp, o.n_expert}, Fill::kMatrix);
    add(blk + "ffn_up_exps.weight", {o.n_embd, o.n_ff_exp, o.n_expert}, Fill::kMatrix);
    add(blk + "ffn_down_exps.weight", {o.n_ff_exp, o.n_embd, o.n_expert}, Fill::kMatrix);
    if (o.n_expert_shared > 0) {
      const int64_t shared_ff = o.n_ff_exp * o.n_expert_shared;
      add(blk + "ffn_gate_shexp.weight", {o.n_embd, shared_ff}, Fill::kMatrix);
      add(blk + "ffn_up_shexp.weight", {o.n_embd, shared_ff}, Fill::kMatrix);
      add(blk + "ffn_down_shexp.weight", {shared_ff, o.n_embd}, Fill::kMatrix);
    }
  }
  add("output_norm.weight", {o.n_embd}, Fill::kNorm);
  if (!o.tied) add("output.weight", {o.n_embd, n_vocab}, Fill::kMatrix);
  return specs;
}

std::vector<TensorSpec> PlanTensors(const RandomModelOptions& o, int64_t n_vocab) {
  if (o.arch == "deepseek2") return PlanDeepseek2Tensors(o, n_vocab);
  const int64_t head_dim = o.head_dim > 0 ? o.head_dim : o.n_embd / o.n_head;
  const int64_t q_dim = o.n_head * head_dim;
  const int64_t kv_dim = o.n_head_kv * head_dim;
  const bool qwen2 = o.arch == "qwen2";
  const bool qwen3 = o.arch == "qwen3";
  std::vector<TensorSpec> specs;
  auto add = [&](std::string name, std::vector<int64_t> dims, Fill fill) {
    const DType type = dims.size() >= 2 ? o.type : DType::kF32;
    specs.push_back({std::move(name), std::move(dims), type, fill, {}});
  };
  add("token_embd.weight", {o.n_embd, n_vocab}, Fill::kMatrix);
  for (int64_t layer = 0; layer < o.n_layer; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    add(blk + "attn_norm.weight", {o.n_embd}, Fill::kNorm);
    add(blk + "attn_q.weight", {o.n_embd, q_dim}, Fill::kMatrix);
    if (qwen2) add(blk + "attn_q.bias", {q_dim}, Fill::kBias);
    add(blk + "attn_k.weight", {o.n_embd, kv_dim}, Fill::kMatrix);
    if (qwen2) add(blk + "attn_k.bias", {kv_dim}, Fill::kBias);
    add(blk + "attn_v.weight", {o.n_embd, kv_dim}, Fill::kMatrix);
    if (qwen2) add(blk + "attn_v.bias", {kv_dim}, Fill::kBias);
    if (qwen3) {
      add(blk + "attn_q_norm.weight", {head_dim}, Fill::kNorm);
      add(blk + "attn_k_norm.weight", {head_dim}, Fill::kNorm);
    }
    add(blk + "attn_output.weight", {q_dim, o.n_embd}, Fill::kMatrix);
    add(blk + "ffn_norm.weight", {o.n_embd}, Fill::kNorm);
    add(blk + "ffn_gate.weight", {o.n_embd, o.n_ff}, Fill::kMatrix);
    add(blk + "ffn_up.weight", {o.n_embd, o.n_ff}, Fill::kMatrix);
    add(blk + "ffn_down.weight", {o.n_ff, o.n_embd}, Fill::kMatrix);
  }
  add("output_norm.weight", {o.n_embd}, Fill::kNorm);
  if (!o.tied) add("output.weight", {o.n_embd, n_vocab}, Fill::kMatrix);
  if (o.rope_scaling == RopeScaling::kLlama3) {
    const int64_t orig_ctx =
        o.rope_orig_ctx > 0
            ? o.rope_orig_ctx
            : static_cast<int64_t>(static_cast<double>(o.n_ctx_train) / o.rope_factor);
    add("rope_freqs.weight", {head_dim / 2}, Fill::kMatrix);
    specs.back().values =
        Llama3RopeFactors(head_dim, o.rope_base, o.rope_factor, o.rope_low_freq_factor,
                          o.rope_high_freq_factor, orig_ctx);
  }
  return specs;
}

// A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens (so any text encodes
// by byte fallback), then single characters, common words with the word-start mark, and
// numbered filler pieces, with decreasing scores as SentencePiece's log-probabilities.
void AddSelfMadeVocab(int64_t n_vocab, GgufWriter& writer) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {TypeId(TokenType::kUnknown), TypeId(TokenType::kControl),
                                TypeId(TokenType::kControl)};
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    tokens.push_back(piece);
    types.push_back(TypeId(TokenType::kByte));
  }
  const std::string kWordStart = "\xe2\x96\x81";  // U+2581, SentencePiece's space mark
  std::vector<std::string> pieces = {kWordStart};
  for (const char* range : {"az", "AZ", "09"}) {
    for (char c = range[0]; c <= range[1]; ++c) pieces.push_back(std::string(1, c));
  }
  for (const char c : std::string(".,!?'\"-:;()")) pieces.push_back(std::string(1, c));
  for (const char* word :
       {"the",    "a",     "and",    "of",    "to",    "in",   "is",    "it",     "that",
        "was",    "he",    "she",    "for",   "on",    "with", "as",    "his",    "her",
        "they",   "at",    "be",     "this",  "from",  "have", "or",    "by",     "one",
        "had",    "not",   "but",    "what",  "all",   "were", "when",  "we",     "there",
        "can",    "an",    "your",   "which", "their", "said", "if",    "do",     "will",
        "each",   "about", "how",    "up",    "out",   "them", "then",  "many",   "some",
        "so",     "would", "other",  "into",  "time",  "day",  "Once",  "upon",   "little",
        "girl",   "boy",   "happy",  "big",   "dog",   "cat",  "play",  "saw",    "went",
        "Lily",   "Tom",   "friend", "mom",   "tree",  "sun",  "think", "answer", "question",
        "because"}) {
    pieces.push_back(kWordStart + word);
  }
  std::set<std::string> seen(tokens.begin(), tokens.end());
  std::vector<float> scores(tokens.size(), 0.0f);
  for (size_t i = 0; static_cast<int64_t>(tokens.size()) < n_vocab; ++i) {
    std::string piece = i < pieces.size() ? pieces[i] : "tok" + std::to_string(i - pieces.size());
    if (!seen.insert(piece).second) continue;
    tokens.push_back(std::move(piece));
    types.push_back(TypeId(TokenType::kNormal));
    scores.push_back(-static_cast<float>(i));
  }
  writer.Set("tokenizer.ggml.model", GgufValue::String("llama"));
  writer.Set("tokenizer.ggml.pre", GgufValue::String("default"));
  writer.Set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
  writer.Set("tokenizer.ggml.scores", GgufValue::Array(scores));
  writer.Set("tokenizer.ggml.token_type", GgufValue::Array(types));
  writer.Set("tokenizer.ggml.bos_token_id", GgufValue::U32(1));
  writer.Set("tokenizer.ggml.eos_token_id", GgufValue::U32(2));
  writer.Set("tokenizer.ggml.unknown_token_id", GgufValue::U32(0));
  writer.Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
  writer.Set("tokenizer.ggml.add_eos_token", GgufValue::Bool(false));
}

void AddHyperParameters(const RandomModelOptions& o, int64_t n_vocab, GgufWriter& writer) {
  const std::string& a = o.arch;
  const int64_t head_dim = o.head_dim > 0 ? o.head_dim : o.n_embd / o.n_head;
  auto u32 = [](int64_t v) { return GgufValue::U32(static_cast<uint32_t>(v)); };
  writer.Set("general.architecture", GgufValue::String(a));
  writer.Set("general.type", GgufValue::String("model"));
  writer.Set("general.name", GgufValue::String("random " + a));
  writer.Set(a + ".block_count", u32(o.n_layer));
  writer.Set(a + ".context_length", u32(o.n_ctx_train));
  writer.Set(a + ".embedding_length", u32(o.n_embd));
  writer.Set(a + ".feed_forward_length", u32(o.n_ff));
  writer.Set(a + ".attention.head_count", u32(o.n_head));
  writer.Set(a + ".attention.head_count_kv", u32(o.n_head_kv));
  writer.Set(a + ".rope.freq_base", GgufValue::F32(o.rope_base));
  const float eps = o.rms_eps > 0.0f ? o.rms_eps : (a == "llama" ? 1e-5f : 1e-6f);
  writer.Set(a + ".attention.layer_norm_rms_epsilon", GgufValue::F32(eps));
  // The converter writes the head size when the checkpoint's config names one (always for
  // Qwen3, whose heads are wider than n_embd / n_head).
  if (a == "qwen3" || head_dim != o.n_embd / o.n_head || o.n_embd % o.n_head != 0) {
    writer.Set(a + ".attention.key_length", u32(head_dim));
    writer.Set(a + ".attention.value_length", u32(head_dim));
  }
  if (a == "deepseek2") {
    if (o.split_kv_b) {
      // Newer converters: key/value_length are the latent sizes the absorbed attention works
      // in, the *_mla keys the per-head sizes.
      writer.Set(a + ".attention.key_length", u32(o.kv_lora_rank + o.qk_rope_dim));
      writer.Set(a + ".attention.value_length", u32(o.kv_lora_rank));
      writer.Set(a + ".attention.key_length_mla", u32(o.qk_nope_dim + o.qk_rope_dim));
      writer.Set(a + ".attention.value_length_mla", u32(o.v_head_dim));
    } else {
      // key/value_length are the per-head sizes of the decompressed (naive) attention.
      writer.Set(a + ".attention.key_length", u32(o.qk_nope_dim + o.qk_rope_dim));
      writer.Set(a + ".attention.value_length", u32(o.v_head_dim));
    }
    writer.Set(a + ".vocab_size", u32(n_vocab));
    writer.Set(a + ".rope.dimension_count", u32(o.qk_rope_dim));
    writer.Set(a + ".leading_dense_block_count", u32(o.n_dense_lead));
    if (o.q_lora_rank > 0) writer.Set(a + ".attention.q_lora_rank", u32(o.q_lora_rank));
    writer.Set(a + ".attention.kv_lora_rank", u32(o.kv_lora_rank));
    writer.Set(a + ".expert_count", u32(o.n_expert));
    writer.Set(a + ".expert_used_count", u32(o.n_expert_used));
    writer.Set(a + ".expert_feed_forward_length", u32(o.n_ff_exp));
    writer.Set(a + ".expert_shared_count", u32(o.n_expert_shared));
    writer.Set(a + ".expert_weights_scale", GgufValue::F32(o.expert_weights_scale));
    writer.Set(a + ".expert_weights_norm", GgufValue::Bool(o.expert_weights_norm));
    writer.Set(a + ".expert_gating_func", u32(o.expert_gating));
    if (o.n_group > 0) {
      writer.Set(a + ".expert_group_count", u32(o.n_group));
      writer.Set(a + ".expert_group_used_count", u32(o.n_group_used));
    }
    if (o.rope_scaling == RopeScaling::kYarn) {
      writer.Set(a + ".rope.scaling.yarn_log_multiplier", GgufValue::F32(o.yarn_log_mul));
    }
  }
  const uint32_t file_type = o.type == DType::kF32   ? kFileTypeF32
                             : o.type == DType::kF16 ? kFileTypeF16
                                                     : kFileTypeBF16;
  writer.Set("general.file_type", GgufValue::U32(file_type));
  if (a == "llama") {
    writer.Set(a + ".vocab_size", u32(n_vocab));
    writer.Set(a + ".rope.dimension_count", u32(head_dim));
  }
  const int64_t orig_ctx =
      o.rope_orig_ctx > 0
          ? o.rope_orig_ctx
          : static_cast<int64_t>(static_cast<double>(o.n_ctx_train) / o.rope_factor);
  switch (o.rope_scaling) {
    case RopeScaling::kNone:
    case RopeScaling::kLlama3:  // carried by the rope_freqs tensor alone
      break;
    case RopeScaling::kLinear:
      writer.Set(a + ".rope.scaling.type", GgufValue::String("linear"));
      writer.Set(a + ".rope.scaling.factor", GgufValue::F32(o.rope_factor));
      break;
    case RopeScaling::kYarn:
      writer.Set(a + ".rope.scaling.type", GgufValue::String("yarn"));
      writer.Set(a + ".rope.scaling.factor", GgufValue::F32(o.rope_factor));
      writer.Set(a + ".rope.scaling.original_context_length", u32(orig_ctx));
      break;
  }
}

// The values of a split attn_k_b / attn_v_b: the layer's attn_kv_b {kv_lora, n_head * (nope +
// v)} generated as the unsplit file has it, then each head's key rows transposed to {nope,
// kv_lora} (attn_k_b) or its value rows kept as {kv_lora, v} (attn_v_b).
std::vector<float> KvBPartValues(const RandomModelOptions& o, const TensorSpec& part) {
  const int64_t kv_lora = o.kv_lora_rank, nope = o.qk_nope_dim, v = o.v_head_dim;
  const int64_t per_head = nope + v;
  TensorSpec whole{part.name.substr(0, part.name.rfind("attn_")) + "attn_kv_b.weight",
                   {kv_lora, o.n_head * per_head},
                   DType::kF32,
                   Fill::kMatrix,
                   {},
                   KvBPart::kNone};
  const int64_t n = whole.elements();
  std::vector<float> kv_b(static_cast<size_t>(n));
  for (int64_t c = 0; c * kChunkElements < n; ++c) {
    GenerateChunk(whole, o.seed, c, &kv_b[c * kChunkElements],
                  std::min(kChunkElements, n - c * kChunkElements));
  }
  std::vector<float> out(static_cast<size_t>(part.elements()));
  for (int64_t h = 0; h < o.n_head; ++h) {
    const float* head = &kv_b[h * per_head * kv_lora];  // {per_head, kv_lora}
    if (part.kv_b_part == KvBPart::kKeys) {
      float* dst = &out[h * kv_lora * nope];  // {kv_lora, nope}
      for (int64_t r = 0; r < kv_lora; ++r) {
        for (int64_t i = 0; i < nope; ++i) dst[r * nope + i] = head[i * kv_lora + r];
      }
    } else {
      std::copy_n(head + nope * kv_lora, v * kv_lora, &out[h * v * kv_lora]);
    }
  }
  return out;
}

Status OptionError(const std::string& message) { return ErrorStatus("random-model: " + message); }

Status CheckDim(const char* what, int64_t value, int64_t max = kMaxDim) {
  if (value < 1 || value > max) {
    return OptionError(std::string(what) + " must be in [1, " + std::to_string(max) + "], got " +
                       std::to_string(value));
  }
  return Status::Ok();
}

Status ValidateQuantMix(const RandomModelOptions& o) {
  if (o.quant_mix.empty()) return Status::Ok();
  if (FindQuantMix(o.quant_mix) == nullptr) {
    return OptionError("unknown quantization mix '" + o.quant_mix + "'");
  }
  if (o.type != DType::kF32) return OptionError("a quantization mix is drawn from F32 values");
  return Status::Ok();
}

Status ValidateDeepseek2Options(const RandomModelOptions& o) {
  if (o.output.empty()) return OptionError("no output file");
  RETURN_IF_ERROR(CheckDim("--layers", o.n_layer, kMaxLayers));
  RETURN_IF_ERROR(CheckDim("--dim", o.n_embd));
  RETURN_IF_ERROR(CheckDim("--ffn", o.n_ff));
  RETURN_IF_ERROR(CheckDim("--heads", o.n_head));
  RETURN_IF_ERROR(CheckDim("--ctx-train", o.n_ctx_train));
  RETURN_IF_ERROR(CheckDim("kv_lora_rank", o.kv_lora_rank));
  RETURN_IF_ERROR(CheckDim("qk_nope_head_dim", o.qk_nope_dim));
  RETURN_IF_ERROR(CheckDim("qk_rope_head_dim", o.qk_rope_dim));
  RETURN_IF_ERROR(CheckDim("v_head_dim", o.v_head_dim));
  RETURN_IF_ERROR(CheckDim("expert count", o.n_expert, 4096));
  RETURN_IF_ERROR(CheckDim("experts used", o.n_expert_used, o.n_expert));
  RETURN_IF_ERROR(CheckDim("expert ffn", o.n_ff_exp));
  if (o.q_lora_rank < 0 || o.q_lora_rank > kMaxDim || o.n_expert_shared < 0 ||
      o.n_expert_shared > 64 || o.n_dense_lead < 0 || o.n_dense_lead > o.n_layer) {
    return OptionError("q_lora_rank, shared experts or leading dense layers out of range");
  }
  if (o.qk_rope_dim % 2 != 0) return OptionError("qk_rope_head_dim must be even");
  if (o.expert_gating != 1 && o.expert_gating != 2) {
    return OptionError("expert gating must be 1 (softmax) or 2 (sigmoid)");
  }
  if (o.n_group > 0 &&
      (o.n_expert % o.n_group != 0 || o.n_group_used < 1 || o.n_group_used > o.n_group ||
       o.n_expert_used > o.n_group_used * (o.n_expert / o.n_group))) {
    return OptionError("expert groups must divide the experts and hold the experts used");
  }
  if (o.vocab_from.empty()) {
    RETURN_IF_ERROR(CheckDim("--vocab", o.n_vocab));
    if (o.n_vocab < kMinSelfMadeVocab) {
      return OptionError("--vocab must be at least " + std::to_string(kMinSelfMadeVocab));
    }
  }
  if (o.rope_scaling == RopeScaling::kLlama3) {
    return OptionError("llama3 rope scaling exists only for --arch llama");
  }
  if (o.type != DType::kF32 && o.type != DType::kF16 && o.type != DType::kBF16) {
    return OptionError(
        "--type must be F32, F16 or BF16 (quantize the result with autarky "
        "quantize)");
  }
  return ValidateQuantMix(o);
}

}  // namespace

std::optional<RopeScaling> ParseRopeScaling(std::string_view name) {
  for (const RopeScaling s :
       {RopeScaling::kNone, RopeScaling::kLinear, RopeScaling::kYarn, RopeScaling::kLlama3}) {
    if (EqualsIgnoreCase(name, RopeScalingName(s))) return s;
  }
  return std::nullopt;
}

std::string_view RopeScalingName(RopeScaling scaling) {
  switch (scaling) {
    case RopeScaling::kNone:
      return "none";
    case RopeScaling::kLinear:
      return "linear";
    case RopeScaling::kYarn:
      return "yarn";
    case RopeScaling::kLlama3:
      return "llama3";
  }
  return "?";
}

Status ApplyRandomModelPreset(std::string_view preset, RandomModelOptions* o) {
  if (preset == "tiny" && o->arch != "deepseek2") {
    if (o->arch.empty()) return OptionError("the tiny preset needs --arch");
    o->n_layer = 2;
    o->n_embd = 64;
    o->n_ff = 128;
    o->n_head = 4;
    o->n_head_kv = 2;
    o->head_dim = o->arch == "qwen3" ? 32 : 0;  // Qwen3's heads are wider than n_embd / n_head
    o->n_vocab = 512;
    o->n_ctx_train = 2048;
    return Status::Ok();
  }
  if (preset == "tiny" && o->arch == "deepseek2") {
    // V2-Lite style: plain attn_q, softmax routing without normalization; 1 dense layer, then 2
    // MoE layers. kv_lora_rank + qk_rope_dim = 64 suits a Q8_0 cache; v_head_dim differs from
    // qk_nope_dim so that a swapped split of attn_kv_b shows.
    o->n_layer = 3;
    o->n_embd = 64;
    o->n_ff = 128;
    o->n_head = 4;
    o->n_head_kv = 4;
    o->n_vocab = 512;
    o->n_ctx_train = 2048;
    o->rms_eps = 1e-6f;
    o->q_lora_rank = 0;
    o->kv_lora_rank = 48;
    o->qk_nope_dim = 16;
    o->qk_rope_dim = 16;
    o->v_head_dim = 24;
    o->n_expert = 8;
    o->n_expert_used = 2;
    o->n_expert_shared = 2;
    o->n_ff_exp = 32;
    o->n_dense_lead = 1;
    o->expert_gating = 1;
    o->expert_weights_norm = false;
    o->expert_weights_scale = 1.0f;
    return Status::Ok();
  }
  if (preset == "tiny-v3") {
    // V3 style: q_lora, sigmoid scores with the exp_probs_b selection bias, 4 groups of which 2
    // are searched, normalized and scaled weights, one shared expert, YaRN with its mscale.
    if (!o->arch.empty() && o->arch != "deepseek2") {
      return OptionError("the tiny-v3 preset is a deepseek2 model, not " + o->arch);
    }
    o->arch = "deepseek2";
    RETURN_IF_ERROR(ApplyRandomModelPreset("tiny", o));
    o->q_lora_rank = 40;
    o->v_head_dim = 16;
    o->n_expert = 16;
    o->n_expert_used = 4;
    o->n_expert_shared = 1;
    o->n_group = 4;
    o->n_group_used = 2;
    o->expert_gating = 2;
    o->expert_weights_norm = true;
    o->expert_weights_scale = 2.5f;
    o->n_ctx_train = 1024;
    o->rope_scaling = RopeScaling::kYarn;
    o->rope_factor = 4.0f;
    o->rope_orig_ctx = 256;
    o->yarn_log_mul = 0.1f;
    return Status::Ok();
  }
  if (preset == "deepseek-v2-lite") {
    // config.json of deepseek-ai/DeepSeek-V2-Lite.
    if (!o->arch.empty() && o->arch != "deepseek2") {
      return OptionError("the deepseek-v2-lite preset is a deepseek2 model, not " + o->arch);
    }
    o->arch = "deepseek2";
    o->n_layer = 27;
    o->n_embd = 2048;
    o->n_ff = 10944;
    o->n_head = 16;
    o->n_head_kv = 16;
    o->n_vocab = 102400;
    o->n_ctx_train = 163840;
    o->rope_base = 10000.0f;
    o->rms_eps = 1e-6f;
    o->tied = false;
    o->q_lora_rank = 0;
    o->kv_lora_rank = 512;
    o->qk_nope_dim = 128;
    o->qk_rope_dim = 64;
    o->v_head_dim = 128;
    o->n_expert = 64;
    o->n_expert_used = 6;
    o->n_expert_shared = 2;
    o->n_ff_exp = 1408;
    o->n_dense_lead = 1;
    o->expert_gating = 1;
    o->expert_weights_norm = false;
    o->expert_weights_scale = 1.0f;
    o->rope_scaling = RopeScaling::kYarn;
    o->rope_factor = 40.0f;
    o->rope_orig_ctx = 4096;
    o->yarn_log_mul = 0.0707f;  // 0.1 * mscale_all_dim
    return Status::Ok();
  }
  if (preset == "r1-distill-qwen-1.5b") {
    // config.json of deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B.
    if (!o->arch.empty() && o->arch != "qwen2") {
      return OptionError("the r1-distill-qwen-1.5b preset is a qwen2 model, not " + o->arch);
    }
    o->arch = "qwen2";
    o->n_layer = 28;
    o->n_embd = 1536;
    o->n_ff = 8960;
    o->n_head = 12;
    o->n_head_kv = 2;
    o->head_dim = 0;
    o->n_vocab = 151936;
    o->n_ctx_train = 131072;
    o->rope_base = 10000.0f;
    o->rms_eps = 1e-6f;
    o->tied = false;
    return Status::Ok();
  }
  return OptionError("unknown preset '" + std::string(preset) +
                     "' (known: tiny, tiny-v3, r1-distill-qwen-1.5b, deepseek-v2-lite)");
}

Status ValidateRandomModelOptions(const RandomModelOptions& o) {
  if (o.output.empty()) return OptionError("no output file");
  if (o.arch == "deepseek2") return ValidateDeepseek2Options(o);
  if (o.arch != "llama" && o.arch != "qwen2" && o.arch != "qwen3") {
    return OptionError("--arch must be llama, qwen2, qwen3 or deepseek2" +
                       (o.arch.empty() ? std::string() : ", got '" + o.arch + "'"));
  }
  RETURN_IF_ERROR(CheckDim("--layers", o.n_layer, kMaxLayers));
  RETURN_IF_ERROR(CheckDim("--dim", o.n_embd));
  RETURN_IF_ERROR(CheckDim("--ffn", o.n_ff));
  RETURN_IF_ERROR(CheckDim("--heads", o.n_head));
  RETURN_IF_ERROR(CheckDim("--kv-heads", o.n_head_kv));
  RETURN_IF_ERROR(CheckDim("--ctx-train", o.n_ctx_train));
  if (o.n_head % o.n_head_kv != 0) {
    return OptionError("--heads (" + std::to_string(o.n_head) +
                       ") must be a multiple of --kv-heads (" + std::to_string(o.n_head_kv) + ")");
  }
  if (o.head_dim == 0 && o.n_embd % o.n_head != 0) {
    return OptionError("--dim (" + std::to_string(o.n_embd) + ") is not a multiple of --heads (" +
                       std::to_string(o.n_head) + "); give --head-dim");
  }
  const int64_t head_dim = o.head_dim > 0 ? o.head_dim : o.n_embd / o.n_head;
  RETURN_IF_ERROR(CheckDim("--head-dim", head_dim));
  if (head_dim % 2 != 0) return OptionError("the head size must be even (RoPE rotates pairs)");
  if (o.n_head * head_dim > kMaxDim) return OptionError("--heads x --head-dim is too large");
  if (o.vocab_from.empty()) {
    RETURN_IF_ERROR(CheckDim("--vocab", o.n_vocab));
    if (o.n_vocab < kMinSelfMadeVocab) {
      return OptionError("--vocab must be at least " + std::to_string(kMinSelfMadeVocab) +
                         " (3 special and 256 byte tokens) without --vocab-from");
    }
  }
  if (!(o.rope_base > 0.0f) || !std::isfinite(o.rope_base)) {
    return OptionError("--rope-base must be a positive number");
  }
  if (!(o.rms_eps >= 0.0f) || !std::isfinite(o.rms_eps)) {
    return OptionError("--rms-eps must be a positive number (0: the architecture's default)");
  }
  if (o.rope_scaling != RopeScaling::kNone) {
    if (!(o.rope_factor > 0.0f) || !std::isfinite(o.rope_factor)) {
      return OptionError("--rope-factor must be a positive number");
    }
    if (o.rope_orig_ctx < 0 || o.rope_orig_ctx > kMaxDim) {
      return OptionError("--rope-orig-ctx must be in [1, " + std::to_string(kMaxDim) + "]");
    }
    const double derived = static_cast<double>(o.n_ctx_train) / o.rope_factor;
    if (o.rope_orig_ctx == 0 && !(derived >= 1.0)) {
      return OptionError("--rope-orig-ctx is needed (--ctx-train / --rope-factor is below 1)");
    }
  }
  if (o.rope_scaling == RopeScaling::kLlama3) {
    if (o.arch != "llama") return OptionError("llama3 rope scaling exists only for --arch llama");
    if (!(o.rope_high_freq_factor > o.rope_low_freq_factor) || !(o.rope_low_freq_factor > 0.0f)) {
      return OptionError("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor");
    }
  }
  if (o.type != DType::kF32 && o.type != DType::kF16 && o.type != DType::kBF16) {
    return OptionError(
        "--type must be F32, F16 or BF16 (quantize the result with autarky "
        "quantize)");
  }
  return ValidateQuantMix(o);
}

std::vector<float> Llama3RopeFactors(int64_t head_dim, float rope_base, float factor,
                                     float low_freq_factor, float high_freq_factor,
                                     int64_t orig_ctx) {
  const double kTwoPi = 6.283185307179586;
  const double low_freq_wavelen = static_cast<double>(orig_ctx) / low_freq_factor;
  const double high_freq_wavelen = static_cast<double>(orig_ctx) / high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(rope_base),
                                       static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = kTwoPi / freq;
    if (wavelen < high_freq_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_freq_wavelen) {
      factors.push_back(factor);
    } else {
      const double smooth = (static_cast<double>(orig_ctx) / wavelen - low_freq_factor) /
                            (high_freq_factor - low_freq_factor);
      factors.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / factor + smooth)));
    }
  }
  return factors;
}

// Extends the copied tokenizer to n_vocab entries as llama.cpp's converter pads a vocabulary
// to the embedding size: tokens "[PADi]" of type UNUSED, score 0.
Status PadVocabulary(const GgufFile& file, std::span<const std::string_view> tokens,
                     int64_t n_vocab, GgufWriter& writer) {
  std::vector<std::string> padded(tokens.begin(), tokens.end());
  for (int64_t i = static_cast<int64_t>(tokens.size()); i < n_vocab; ++i) {
    padded.push_back("[PAD" + std::to_string(i) + "]");
  }
  writer.Set("tokenizer.ggml.tokens", GgufValue::StringArray(padded));
  if (file.Has("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(const GgufValue* types,
                     file.GetArray("tokenizer.ggml.token_type", GgufType::kI32));
    std::vector<int32_t> values = types->ToVector<int32_t>();
    values.resize(static_cast<size_t>(n_vocab), TypeId(TokenType::kUnused));
    writer.Set("tokenizer.ggml.token_type", GgufValue::Array(values));
  }
  if (file.Has("tokenizer.ggml.scores")) {
    ASSIGN_OR_RETURN(const GgufValue* scores,
                     file.GetArray("tokenizer.ggml.scores", GgufType::kF32));
    std::vector<float> values = scores->ToVector<float>();
    values.resize(static_cast<size_t>(n_vocab), 0.0f);
    writer.Set("tokenizer.ggml.scores", GgufValue::Array(values));
  }
  return Status::Ok();
}

Result<RandomModelStats> WriteRandomModel(const RandomModelOptions& options) {
  RETURN_IF_ERROR(ValidateRandomModelOptions(options));
  const auto start = std::chrono::steady_clock::now();
  GgufWriter writer;
  int64_t n_vocab = options.n_vocab;
  std::optional<GgufFile> vocab_file;
  AddHyperParameters(options, n_vocab, writer);  // vocab_size is corrected below if copied
  if (!options.vocab_from.empty()) {
    ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(options.vocab_from));
    ASSIGN_OR_RETURN(auto tokens, file.GetStringArray("tokenizer.ggml.tokens"));
    if (tokens.empty()) return OptionError(options.vocab_from + ": the vocabulary is empty");
    const int64_t n_tokens = static_cast<int64_t>(tokens.size());
    n_vocab = options.pad_vocab_to > 0 ? options.pad_vocab_to : n_tokens;
    if (n_vocab < n_tokens) {
      return OptionError("--vocab " + std::to_string(n_vocab) + " is smaller than the " +
                         std::to_string(n_tokens) + " tokens of " + options.vocab_from);
    }
    RETURN_IF_ERROR(CheckDim("the --vocab-from vocabulary size", n_vocab));
    if (options.arch == "llama") {
      writer.Set("llama.vocab_size", GgufValue::U32(static_cast<uint32_t>(n_vocab)));
    }
    for (const GgufKeyValue& kv : file.metadata()) {
      if (kv.key.starts_with("tokenizer.")) writer.Set(kv.key, kv.value.Owned());
    }
    if (n_vocab > n_tokens) RETURN_IF_ERROR(PadVocabulary(file, tokens, n_vocab, writer));
    vocab_file.emplace(std::move(file));
  } else {
    AddSelfMadeVocab(n_vocab, writer);
  }

  std::vector<TensorSpec> specs = PlanTensors(options, n_vocab);
  if (!options.quant_mix.empty()) {
    RETURN_IF_ERROR(ApplyQuantMix(options, specs));
    writer.Set("general.quantization_version", GgufValue::U32(kQuantizationVersion));
    writer.Set("general.file_type", GgufValue::U32(FindQuantMix(options.quant_mix)->file_type));
  }
  RandomModelStats stats;
  stats.n_vocab = n_vocab;
  uint64_t total_bytes = 0;
  for (const TensorSpec& spec : specs) {
    RETURN_IF_ERROR(writer.AddTensor(spec.name, spec.type, spec.dims));
    stats.n_params += spec.elements();
    total_bytes += *RowBytes(spec.type, spec.dims[0]) * (spec.elements() / spec.dims[0]);
  }
  stats.n_tensors = static_cast<int>(specs.size());
  RETURN_IF_ERROR(writer.Begin(options.output));

  ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::HardwareThreads());
  std::optional<ProgressBar> progress;
  if (options.progress) progress.emplace("random-model", total_bytes);
  std::vector<float> values(static_cast<size_t>(kSliceChunks * kChunkElements));  // one slice
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::vector<float> pending;  // quantized tensors: the floats of rows not complete yet
  uint64_t done = 0;
  for (const TensorSpec& planned : specs) {
    TensorSpec derived;
    if (planned.kv_b_part != KvBPart::kNone) {
      derived = planned;
      derived.values = KvBPartValues(options, planned);
    }
    const TensorSpec& spec = planned.kv_b_part != KvBPart::kNone ? derived : planned;
    const int64_t n = spec.elements();
    const int64_t n_chunks = (n + kChunkElements - 1) / kChunkElements;
    for (int64_t first = 0; first < n_chunks; first += kSliceChunks) {
      const int64_t slice_chunks = std::min(kSliceChunks, n_chunks - first);
      const int64_t slice_begin = first * kChunkElements;
      const int64_t slice_n = std::min(n - slice_begin, slice_chunks * kChunkElements);
      pool.ParallelFor(slice_chunks, [&](int64_t task, int /*thread*/) {
        const int64_t chunk = first + task;
        const int64_t begin = chunk * kChunkElements;
        const int64_t count = std::min(kChunkElements, n - begin);
        float* out = values.data() + (begin - slice_begin);
        GenerateChunk(spec, options.seed, chunk, out, count);
        if (IsFloatType(spec.type)) {
          Encode(spec.type, out, count,
                 bytes.data() + (begin - slice_begin) * ElementBytes(spec.type));
        }
      });
      if (IsFloatType(spec.type)) {
        const size_t slice_bytes = static_cast<size_t>(slice_n) * ElementBytes(spec.type);
        RETURN_IF_ERROR(writer.AppendTensorData({bytes.data(), slice_bytes}));
        done += slice_bytes;
      } else {
        RETURN_IF_ERROR(
            QuantizeWholeRows(spec, values.data(), slice_n, pending, bytes, pool, writer, done));
      }
      if (progress) progress->Update(done, spec.name);
    }
  }
  RETURN_IF_ERROR(writer.Finish());
  if (progress) progress->Finish();
  stats.file_bytes = writer.file_size();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace autarky::tools
