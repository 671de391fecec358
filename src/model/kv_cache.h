// KvCache: the keys and values of past tokens, per layer, for n_seq independent sequences
// (slots) of up to n_ctx positions each, stored as F32, F16 or Q8_0.
//
// Layout per layer: K {n_seq, n_ctx, k_width} and V {n_seq, n_ctx, v_width} rows of the cache
// type, where a row holds every KV head of one token ({n_head_kv, head_dim}). Memory is
// reserved up front but pages are touched only as positions fill.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "util/status.h"

namespace autarky {

// What an architecture stores per token and layer.
struct KvCacheShape {
  std::vector<int32_t> k_width;  // {n_layer} key values per token
  std::vector<int32_t> v_width;  // {n_layer} value values per token (0: no values)
  int32_t head_dim = 0;          // granularity of reads: widths are multiples of it
};

class KvCache {
 public:
  // Types a cache may use.
  static bool IsSupportedType(DType type);
  // Parses "f32", "f16", "q8_0" (case-insensitive).
  static Result<DType> ParseType(const std::string& name);

  // Errors: unsupported type, a head_dim the type cannot split (Q8_0 needs multiples of 32),
  // sizes out of range, or not enough memory.
  static Result<std::unique_ptr<KvCache>> Create(const KvCacheShape& shape, DType type,
                                                 int32_t n_ctx, int32_t n_seq);

  DType type() const { return type_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_seq() const { return n_seq_; }
  int32_t n_layer() const { return static_cast<int32_t>(shape_.k_width.size()); }
  const KvCacheShape& shape() const { return shape_; }
  // Bytes of one token's keys and values over all layers.
  size_t BytesPerToken() const { return bytes_per_token_; }
  size_t TotalBytes() const { return bytes_per_token_ * n_ctx_ * n_seq_; }

  size_t KRowBytes(int layer) const { return k_row_bytes_[layer]; }
  size_t VRowBytes(int layer) const { return v_row_bytes_[layer]; }
  // Bytes of one head's slice of a row: RowBytes(type, head_dim).
  size_t HeadBytes() const { return head_bytes_; }

  uint8_t* KRow(int layer, int32_t seq, int32_t pos) {
    return k_[layer].get() + (static_cast<size_t>(seq) * n_ctx_ + pos) * k_row_bytes_[layer];
  }
  const uint8_t* KRow(int layer, int32_t seq, int32_t pos) const {
    return k_[layer].get() + (static_cast<size_t>(seq) * n_ctx_ + pos) * k_row_bytes_[layer];
  }
  uint8_t* VRow(int layer, int32_t seq, int32_t pos) {
    return v_[layer].get() + (static_cast<size_t>(seq) * n_ctx_ + pos) * v_row_bytes_[layer];
  }
  const uint8_t* VRow(int layer, int32_t seq, int32_t pos) const {
    return v_[layer].get() + (static_cast<size_t>(seq) * n_ctx_ + pos) * v_row_bytes_[layer];
  }

  // Stores x {width} (floats) converted to the cache type.
  void StoreK(int layer, int32_t seq, int32_t pos, const float* x);
  void StoreV(int layer, int32_t seq, int32_t pos, const float* x);

  // Copies positions [0, n) of sequence `from` to sequence `to` in every layer (prefix reuse).
  void CopyPrefix(int32_t from, int32_t to, int32_t n);

 private:
  KvCache() = default;
  void Store(uint8_t* row, const float* x, int32_t width) const;

  KvCacheShape shape_;
  DType type_ = DType::kF16;
  int32_t n_ctx_ = 0;
  int32_t n_seq_ = 0;
  size_t head_bytes_ = 0;
  size_t bytes_per_token_ = 0;
  std::vector<size_t> k_row_bytes_, v_row_bytes_;
  std::vector<std::unique_ptr<uint8_t[]>> k_, v_;
};

}  // namespace autarky
