// Hugging Face folder -> GgufFile: config.json to {arch}.* keys, tokenizer.json to
// tokenizer.ggml.* keys, safetensors tensors renamed (and where needed converted) to GGUF's.
#include "io/hf_folder.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "io/gguf_writer.h"
#include "io/hf_deepseek.h"
#include "io/hf_generation.h"
#include "io/hf_json.h"
#include "io/hf_names.h"
#include "io/hf_tokenizer.h"
#include "io/safetensors.h"
#include "util/fp16.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// general.file_type values (llama_ftype) of unquantized models.
constexpr uint32_t kFileTypeAllF32 = 0;
constexpr uint32_t kFileTypeF16 = 1;
constexpr uint32_t kFileTypeBF16 = 32;

// DeepSeek's FP8 checkpoints scale each 128x128 block of a weight by one weight_scale_inv entry.
constexpr int64_t kFp8Block = 128;

// Keeps the safetensors mappings and the converted tensors alive for the GgufFile.
struct FolderData {
  std::vector<SafetensorsFile> files;
  // Vectors, rope_freqs and, when materialized, the decoded tensors. Growing the outer vector
  // moves the inner ones, which keeps their heap buffers in place.
  std::vector<std::vector<uint8_t>> buffers;
};

// ---- architecture and hyper-parameters ----

struct ArchMap {
  std::string arch;  // GGUF general.architecture
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_vocab = 0;  // config vocab_size
  bool permute_qk = false;
  bool tied_embeddings = false;
  bool deepseek = false;
  HfDeepseekShape deepseek_shape;  // when deepseek
};

Status ConfigToMetadata(const Json& config, const std::string& config_name,
                        const std::string& model_name, GgufWriter& w, ArchMap* map,
                        std::vector<float>* rope_freqs) {
  const HfFields f(config, config_name);
  std::string hf_arch;
  if (config.contains("architectures") && config["architectures"].is_array() &&
      !config["architectures"].empty() && config["architectures"][0].is_string()) {
    hf_arch = config["architectures"][0].get<std::string>();
  } else {
    return ErrorStatus(config_name + ": field 'architectures' is missing");
  }
  if (IsHfDeepseekArch(hf_arch)) {
    map->arch = "deepseek2";
    map->deepseek = true;
    w.Set("general.architecture", GgufValue::String(map->arch));
    w.Set("general.name", GgufValue::String(model_name));
    RETURN_IF_ERROR(DeepseekConfigToMetadata(config, config_name, w, &map->deepseek_shape));
    map->n_vocab = map->deepseek_shape.n_vocab;
    map->tied_embeddings = map->deepseek_shape.tied_embeddings;
    return Status::Ok();
  }
  if (hf_arch == "LlamaForCausalLM" || hf_arch == "MistralForCausalLM") {
    map->arch = "llama";
    map->permute_qk = true;
  } else if (hf_arch == "Qwen2ForCausalLM") {
    map->arch = "qwen2";
  } else if (hf_arch == "Qwen3ForCausalLM") {
    map->arch = "qwen3";
  } else {
    return ErrorStatus(config_name + ": architecture '" + hf_arch +
                       "' is not supported (supported: LlamaForCausalLM, Qwen2ForCausalLM, "
                       "Qwen3ForCausalLM, DeepseekV2ForCausalLM, DeepseekV3ForCausalLM)");
  }
  const std::string p = map->arch + ".";
  ASSIGN_OR_RETURN(const int64_t n_layer, f.Int("num_hidden_layers"));
  ASSIGN_OR_RETURN(const int64_t n_embd, f.Int("hidden_size"));
  ASSIGN_OR_RETURN(const int64_t n_ff, f.Int("intermediate_size"));
  ASSIGN_OR_RETURN(map->n_head, f.Int("num_attention_heads"));
  ASSIGN_OR_RETURN(map->n_head_kv, f.IntOr("num_key_value_heads", map->n_head));
  if (n_layer < 1 || n_embd < 1 || n_ff < 1 || map->n_head < 1 || map->n_head_kv < 1 ||
      map->n_head % map->n_head_kv != 0) {
    return ErrorStatus(config_name +
                       ": layers, sizes and head counts must be positive, and "
                       "num_attention_heads a multiple of num_key_value_heads");
  }
  ASSIGN_OR_RETURN(map->head_dim, f.IntOr("head_dim", n_embd / map->n_head));
  if (map->head_dim < 2 || map->head_dim % 2 != 0) {
    return ErrorStatus(config_name + ": head_dim " + std::to_string(map->head_dim) +
                       " must be even and positive");
  }
  ASSIGN_OR_RETURN(map->n_vocab, f.IntOr("vocab_size", 0));
  ASSIGN_OR_RETURN(map->tied_embeddings, f.BoolOr("tie_word_embeddings", false));
  ASSIGN_OR_RETURN(const int64_t n_ctx, f.IntOr("max_position_embeddings", 4096));
  ASSIGN_OR_RETURN(const double theta, f.FloatOr("rope_theta", 10000.0));
  ASSIGN_OR_RETURN(const double eps, f.FloatOr("rms_norm_eps", 1e-6));

  w.Set("general.architecture", GgufValue::String(map->arch));
  w.Set("general.name", GgufValue::String(model_name));
  w.Set(p + "block_count", GgufValue::U32(static_cast<uint32_t>(n_layer)));
  w.Set(p + "context_length", GgufValue::U32(static_cast<uint32_t>(n_ctx)));
  w.Set(p + "embedding_length", GgufValue::U32(static_cast<uint32_t>(n_embd)));
  w.Set(p + "feed_forward_length", GgufValue::U32(static_cast<uint32_t>(n_ff)));
  w.Set(p + "attention.head_count", GgufValue::U32(static_cast<uint32_t>(map->n_head)));
  w.Set(p + "attention.head_count_kv", GgufValue::U32(static_cast<uint32_t>(map->n_head_kv)));
  w.Set(p + "rope.freq_base", GgufValue::F32(static_cast<float>(theta)));
  w.Set(p + "attention.layer_norm_rms_epsilon", GgufValue::F32(static_cast<float>(eps)));
  if (f.Has("head_dim") && map->head_dim != n_embd / map->n_head) {
    w.Set(p + "attention.key_length", GgufValue::U32(static_cast<uint32_t>(map->head_dim)));
    w.Set(p + "attention.value_length", GgufValue::U32(static_cast<uint32_t>(map->head_dim)));
  }
  if (map->arch == "llama") {
    if (map->n_vocab > 0) {
      w.Set(p + "vocab_size", GgufValue::U32(static_cast<uint32_t>(map->n_vocab)));
    }
    w.Set(p + "rope.dimension_count", GgufValue::U32(static_cast<uint32_t>(map->head_dim)));
  }

  if (config.contains("rope_scaling") && config["rope_scaling"].is_object()) {
    const Json& rs = config["rope_scaling"];
    const HfFields r(rs, config_name + " rope_scaling");
    const std::string type = r.RopeScalingType();
    ASSIGN_OR_RETURN(const double factor, r.FloatOr("factor", 1.0));
    if (type == "linear" || type == "yarn") {
      w.Set(p + "rope.scaling.type", GgufValue::String(type));
      w.Set(p + "rope.scaling.factor", GgufValue::F32(static_cast<float>(factor)));
      if (type == "yarn") {
        ASSIGN_OR_RETURN(const int64_t orig, r.Int("original_max_position_embeddings"));
        w.Set(p + "rope.scaling.original_context_length",
              GgufValue::U32(static_cast<uint32_t>(orig)));
      }
    } else if (type == "llama3") {
      // As llama.cpp's converter: per-frequency divisors in a rope_freqs tensor.
      ASSIGN_OR_RETURN(const double low, r.FloatOr("low_freq_factor", 1.0));
      ASSIGN_OR_RETURN(const double high, r.FloatOr("high_freq_factor", 4.0));
      ASSIGN_OR_RETURN(const double old_ctx, r.FloatOr("original_max_position_embeddings", 8192));
      if (!(high > low) || !(old_ctx > 0) || !(factor > 0)) {
        return ErrorStatus(config_name + ": rope_scaling llama3 factors are inconsistent");
      }
      const double low_wavelen = old_ctx / low;
      const double high_wavelen = old_ctx / high;
      const int64_t dim = map->head_dim;
      for (int64_t i = 0; i < dim; i += 2) {
        const float exponent = static_cast<float>(i) / static_cast<float>(dim);
        const float freq = 1.0f / std::pow(static_cast<float>(theta), exponent);
        const double wavelen = 2 * M_PI / freq;
        double div = 1.0;
        if (wavelen < high_wavelen) {
          div = 1.0;
        } else if (wavelen > low_wavelen) {
          div = factor;
        } else {
          const double smooth = (old_ctx / wavelen - low) / (high - low);
          div = 1.0 / ((1 - smooth) / factor + smooth);
        }
        rope_freqs->push_back(static_cast<float>(div));
      }
    } else if (!type.empty() && type != "default") {
      return ErrorStatus(config_name + ": rope_scaling type '" + type + "' is not supported");
    }
  }
  return Status::Ok();
}

// ---- tensors ----

// GGUF name of a Hugging Face tensor, or empty when the tensor is not used.
std::string GgufName(const std::string& hf) {
  HfTensorName name;
  if (!SplitHfTensorName(hf, &name)) return "";
  if (!name.global.empty()) return name.global;
  const std::string& layer = name.layer;
  const std::string& rest = name.rest;
  static const std::map<std::string, std::string> kParts = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  auto it = kParts.find(rest);
  if (it == kParts.end()) return "";
  return "blk." + layer + "." + it->second;
}

float Fp8E4m3Decode(uint8_t v) {
  const int sign = v >> 7;
  const int exp = (v >> 3) & 15;
  const int mant = v & 7;
  float out = 0;
  if (exp == 15 && mant == 7) {
    out = NAN;  // E4M3FN has no infinities; S.1111.111 is NaN
  } else if (exp == 0) {
    out = std::ldexp(static_cast<float>(mant) / 8.0f, -6);
  } else {
    out = std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, exp - 7);
  }
  return sign ? -out : out;
}

// The 256 E4M3 values, tabulated once: decoding R1's 700 GB one code at a time with ldexp would
// dominate the conversion.
float Fp8E4m3ToFp32(uint8_t v) {
  static const std::array<float, 256> kTable = [] {
    std::array<float, 256> table{};
    for (int i = 0; i < 256; ++i) table[i] = Fp8E4m3Decode(static_cast<uint8_t>(i));
    return table;
  }();
  return kTable[v];
}

// Reads element i of a float tensor (F32/F16/BF16) as F32.
float LoadFloat(const SafetensorsTensor& t, int64_t i) {
  switch (t.dtype) {
    case StDType::kF32: {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      return f;
    }
    case StDType::kF16:
    case StDType::kBF16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return t.dtype == StDType::kF16 ? Fp16ToFp32(h) : Bf16ToFp32(h);
    }
    default:
      return 0;
  }
}

bool IsFloat(StDType t) { return t == StDType::kF32 || t == StDType::kF16 || t == StDType::kBF16; }

DType ToDType(StDType t) {
  return t == StDType::kF32 ? DType::kF32 : t == StDType::kF16 ? DType::kF16 : DType::kBF16;
}

// Reorders the rows of a {n_out, k} Q or K projection (n_head heads of head_dim rows) the way
// llama.cpp's converter does for `llama`: within each head, the first and second halves of the
// rows are interleaved, so the rope of adjacent pairs (rope style "normal") matches HF's
// rotate_half on split halves.
void PermuteHeads(const uint8_t* src, uint8_t* dst, int64_t n_rows, size_t row_bytes,
                  int64_t n_head) {
  const int64_t head_dim = n_rows / n_head;
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t out_row = h * head_dim + 2 * i + j;
        const int64_t in_row = h * head_dim + j * half + i;
        std::memcpy(dst + out_row * row_bytes, src + in_row * row_bytes, row_bytes);
      }
    }
  }
}

struct TensorSource {
  const SafetensorsTensor* tensor = nullptr;
  const SafetensorsFile* file = nullptr;
};

// Hands the whole pages of mapped file bytes back to the kernel once they are decoded, so that a
// conversion's resident memory stays about one tensor instead of growing with the file (they are
// read again from the file if needed). Only for mappings: DONTNEED would zero a heap copy.
void DropMappedPages(const uint8_t* p, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Result<GgufExternalTensor> ConvertTensor(const std::string& gguf_name, const TensorSource& src,
                                         const TensorSource* scale, const ArchMap& map, bool mapped,
                                         FolderData& data) {
  const SafetensorsTensor& t = *src.tensor;
  const std::string what = src.file->name() + ": tensor '" + t.name + "'";
  if (t.shape.empty() || t.shape.size() > 2 || t.n_elements == 0) {
    return ErrorStatus(what + ": expected a non-empty vector or matrix");
  }
  GgufExternalTensor out;
  out.name = gguf_name;
  out.dims.assign(t.shape.rbegin(), t.shape.rend());  // ggml order: contiguous dimension first
  const int64_t n_rows = t.shape.size() == 2 ? t.shape[0] : 1;
  const int64_t row_elems = t.shape.back();

  if (t.shape.size() == 1) {
    // Vectors (norms, biases) as F32, as llama.cpp's converter writes them.
    if (!IsFloat(t.dtype)) {
      return ErrorStatus(what + ": dtype " + std::string(StDTypeName(t.dtype)) +
                         " is not supported");
    }
    std::vector<uint8_t>& buf = data.buffers.emplace_back(4 * t.n_elements);
    for (int64_t i = 0; i < t.n_elements; ++i) {
      const float f = LoadFloat(t, i);
      std::memcpy(buf.data() + 4 * i, &f, 4);
    }
    out.type = DType::kF32;
    out.data = buf.data();
    out.n_bytes = buf.size();
    return out;
  }

  size_t elem = StDTypeSize(t.dtype);
  if (t.dtype == StDType::kF8E4M3) {
    if (scale == nullptr) {
      return ErrorStatus(what + ": F8_E4M3 weight without a weight_scale_inv tensor");
    }
    const SafetensorsTensor& s = *scale->tensor;
    const int64_t want_r = (n_rows + kFp8Block - 1) / kFp8Block;
    const int64_t want_c = (row_elems + kFp8Block - 1) / kFp8Block;
    if (s.shape.size() != 2 || s.shape[0] != want_r || s.shape[1] != want_c || !IsFloat(s.dtype)) {
      return ErrorStatus(scale->file->name() + ": tensor '" + s.name + "': expected a float [" +
                         std::to_string(want_r) + ", " + std::to_string(want_c) + "] scale");
    }
    // Decoded on demand: an FP8 model is twice its size as BF16 (DeepSeek-R1: 1.3 TB).
    out.fill = [codes = &t, scales = &s, n_rows, row_elems, want_c, mapped](uint8_t* dst) {
      for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t c = 0; c < row_elems; ++c) {
          const float v = Fp8E4m3ToFp32(codes->data[r * row_elems + c]) *
                          LoadFloat(*scales, (r / kFp8Block) * want_c + c / kFp8Block);
          const uint16_t b = Fp32ToBf16(v);
          std::memcpy(dst + 2 * (r * row_elems + c), &b, 2);
        }
      }
      if (mapped) DropMappedPages(codes->data, codes->n_bytes);
      return Status::Ok();
    };
    out.type = DType::kBF16;
    elem = 2;
  } else if (IsFloat(t.dtype)) {
    out.type = ToDType(t.dtype);
    out.data = t.data;
  } else {
    return ErrorStatus(what + ": dtype " + std::string(StDTypeName(t.dtype)) +
                       " is not supported for weights");
  }
  out.n_bytes = static_cast<size_t>(t.n_elements) * elem;

  const bool is_q = gguf_name.size() > 13 && gguf_name.ends_with(".attn_q.weight");
  const bool is_k = gguf_name.size() > 13 && gguf_name.ends_with(".attn_k.weight");
  if (map.permute_qk && (is_q || is_k)) {
    const int64_t n_head = is_q ? map.n_head : map.n_head_kv;
    if (n_rows % (2 * n_head) != 0) {
      return ErrorStatus(what + ": " + std::to_string(n_rows) + " rows do not split into " +
                         std::to_string(n_head) + " heads of even size");
    }
    const size_t row_bytes = static_cast<size_t>(row_elems) * elem;
    const size_t n_bytes = out.n_bytes;
    out.fill = [src = out.data, decode = std::move(out.fill), n_rows, row_bytes, n_head,
                n_bytes](uint8_t* dst) -> Status {
      if (src != nullptr) {
        PermuteHeads(src, dst, n_rows, row_bytes, n_head);
        return Status::Ok();
      }
      std::vector<uint8_t> decoded(n_bytes);
      RETURN_IF_ERROR(decode(decoded.data()));
      PermuteHeads(decoded.data(), dst, n_rows, row_bytes, n_head);
      return Status::Ok();
    };
    out.data = nullptr;
  } else if (out.data != nullptr && reinterpret_cast<uintptr_t>(out.data) % elem != 0) {
    // The kernels read whole elements: copy a misaligned tensor (writers align them anyway).
    out.fill = [src = out.data, n_bytes = out.n_bytes](uint8_t* dst) {
      std::memcpy(dst, src, n_bytes);
      return Status::Ok();
    };
    out.data = nullptr;
  }
  return out;
}

}  // namespace

bool IsHfFolder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "config.json", ec);
}

Result<GgufFile> LoadHfFolder(const std::string& dir_name, FileLoad mode, HfTensorLoad load) {
  const fs::path dir(dir_name);
  if (!IsHfFolder(dir_name)) {
    return ErrorStatus(dir_name + ": not a Hugging Face model folder (no config.json)");
  }
  const std::string config_name = (dir / "config.json").string();
  ASSIGN_OR_RETURN(const Json config, ReadHfJson(dir / "config.json"));

  GgufWriter w;
  ArchMap map;
  std::vector<float> rope_freqs;
  std::string model_name = fs::absolute(dir).lexically_normal().filename().string();
  if (model_name.empty())
    model_name = fs::absolute(dir).lexically_normal().parent_path().filename();
  RETURN_IF_ERROR(ConfigToMetadata(config, config_name, model_name, w, &map, &rope_freqs));
  RETURN_IF_ERROR(HfTokenizerToMetadata(dir_name, config, map.n_vocab, w));
  RETURN_IF_ERROR(GenerationConfigToMetadata(dir_name, w));

  // Shards: the index's weight_map names them; without one, every *.safetensors file.
  auto data = std::make_shared<FolderData>();
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  if (fs::exists(dir / "model.safetensors.index.json")) {
    const std::string index_name = (dir / "model.safetensors.index.json").string();
    ASSIGN_OR_RETURN(const Json index, ReadHfJson(dir / "model.safetensors.index.json"));
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      return ErrorStatus(index_name + ": weight_map is missing");
    }
    std::set<std::string> names;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        return ErrorStatus(index_name + ": weight_map value not a string");
      const std::string file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos) {
        return ErrorStatus(index_name + ": shard name '" + file + "' leaves the folder");
      }
      names.insert(file);
      weight_map[it.key()] = file;
    }
    shard_names.assign(names.begin(), names.end());
  } else {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".safetensors") {
        shard_names.push_back(entry.path().filename().string());
      }
    }
    std::sort(shard_names.begin(), shard_names.end());
  }
  if (shard_names.empty()) return ErrorStatus(dir_name + ": no *.safetensors files");
  data->files.reserve(shard_names.size());
  std::map<std::string, TensorSource> sources;
  for (const std::string& shard : shard_names) {
    ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open((dir / shard).string(), mode));
    data->files.push_back(std::move(file));
  }
  for (size_t i = 0; i < data->files.size(); ++i) {
    const SafetensorsFile& file = data->files[i];
    for (const SafetensorsTensor& t : file.tensors()) {
      if (auto it = weight_map.find(t.name);
          it != weight_map.end() && it->second != shard_names[i]) {
        continue;  // the index assigns it to another shard
      }
      if (sources.count(t.name) != 0) {
        return ErrorStatus(file.name() + ": tensor '" + t.name + "' is also in " +
                           sources[t.name].file->name());
      }
      sources[t.name] = {&t, &file};
    }
  }
  for (const auto& [name, file] : weight_map) {
    if (sources.count(name) == 0) {
      return ErrorStatus((dir / file).string() + ": tensor '" + name +
                         "' listed in the index is missing");
    }
  }

  std::vector<GgufExternalTensor> tensors;
  if (!rope_freqs.empty()) {
    std::vector<uint8_t>& buf = data->buffers.emplace_back(4 * rope_freqs.size());
    std::memcpy(buf.data(), rope_freqs.data(), buf.size());
    tensors.push_back({"rope_freqs.weight",
                       DType::kF32,
                       {static_cast<int64_t>(rope_freqs.size())},
                       buf.data(),
                       buf.size(),
                       nullptr});
  }
  // Order as llama.cpp's converter: embedding first, then by layer, then the output.
  std::vector<std::pair<std::string, const TensorSource*>> order;
  for (const auto& [hf_name, src] : sources) {
    if (hf_name.ends_with("_scale_inv")) continue;
    const std::string gguf =
        map.deepseek ? DeepseekGgufName(hf_name, map.deepseek_shape) : GgufName(hf_name);
    if (gguf == kHfSkipTensor) continue;
    if (gguf.empty()) {
      if (hf_name.ends_with("rotary_emb.inv_freq")) continue;
      return ErrorStatus(src.file->name() + ": tensor '" + hf_name + "' has no GGUF name for " +
                         map.arch);
    }
    if (gguf == "output.weight" && map.tied_embeddings) continue;
    order.emplace_back(gguf, &src);
  }
  auto rank = [](const std::string& n) -> std::pair<int64_t, std::string> {
    if (n == "token_embd.weight") return {-1, n};
    if (n.rfind("blk.", 0) == 0) return {std::stoll(n.substr(4)), n};
    return {int64_t{1} << 40, n};
  };
  std::sort(order.begin(), order.end(),
            [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  bool any_f16 = false, any_bf16 = false;
  std::optional<DeepseekTensorAssembler> assembler;
  if (map.deepseek) assembler.emplace(map.deepseek_shape);
  for (const auto& [gguf, src] : order) {
    const TensorSource* scale = nullptr;
    if (auto it = sources.find(src->tensor->name + "_scale_inv"); it != sources.end()) {
      scale = &it->second;
    }
    ASSIGN_OR_RETURN(GgufExternalTensor t,
                     ConvertTensor(gguf, *src, scale, map, mode != FileLoad::kCopy, *data));
    any_f16 = any_f16 || t.type == DType::kF16;
    any_bf16 = any_bf16 || t.type == DType::kBF16;
    if (assembler) {
      RETURN_IF_ERROR(assembler->Add(std::move(t), &tensors));
    } else {
      tensors.push_back(std::move(t));
    }
  }
  if (assembler) RETURN_IF_ERROR(assembler->Finish());
  if (load == HfTensorLoad::kMaterialize) {
    for (GgufExternalTensor& t : tensors) {
      if (t.data != nullptr) continue;
      std::vector<uint8_t>& buf = data->buffers.emplace_back(t.n_bytes);
      RETURN_IF_ERROR(t.fill(buf.data()));
      t.data = buf.data();
      t.fill = nullptr;
    }
  }
  w.Set("general.file_type", GgufValue::U32(any_bf16  ? kFileTypeBF16
                                            : any_f16 ? kFileTypeF16
                                                      : kFileTypeAllF32));
  RETURN_IF_ERROR(w.BeginInMemory());
  RETURN_IF_ERROR(w.Finish());
  return GgufFile::Assemble(dir_name, w.TakeBuffer(), std::move(tensors), std::move(data));
}

}  // namespace autarky
