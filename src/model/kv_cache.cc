// KvCache storage and conversion of rows to the cache type.
#include "model/kv_cache.h"

#include <cstring>
#include <new>

#include "kernels/quantize.h"
#include "util/check.h"
#include "util/strings.h"

namespace autarky {
namespace {
// A cache larger than this is certainly a mistake (flag typo) rather than a plan.
constexpr size_t kMaxCacheBytes = size_t{1} << 40;
}  // namespace

bool KvCache::IsSupportedType(DType type) {
  return type == DType::kF32 || type == DType::kF16 || type == DType::kQ8_0;
}

Result<DType> KvCache::ParseType(const std::string& name) {
  if (EqualsIgnoreCase(name, "f32")) return DType::kF32;
  if (EqualsIgnoreCase(name, "f16")) return DType::kF16;
  if (EqualsIgnoreCase(name, "q8_0")) return DType::kQ8_0;
  return ErrorStatus("unknown KV cache type '" + name + "' (expected f16, f32 or q8_0)");
}

Result<std::unique_ptr<KvCache>> KvCache::Create(const KvCacheShape& shape, DType type,
                                                 int32_t n_ctx, int32_t n_seq) {
  if (!IsSupportedType(type)) {
    return ErrorStatus("KV cache type " + std::string(DTypeName(type)) +
                       " is not supported (f16, f32, q8_0)");
  }
  if (n_ctx <= 0 || n_seq <= 0) {
    return ErrorStatus("KV cache needs a positive context size and sequence count (got ctx " +
                       std::to_string(n_ctx) + ", sequences " + std::to_string(n_seq) + ")");
  }
  CHECK(shape.k_width.size() == shape.v_width.size());
  CHECK(shape.head_dim > 0);
  const int64_t block = Traits(type).block_elems;
  if (shape.head_dim % block != 0) {
    return ErrorStatus("KV cache type " + std::string(DTypeName(type)) + " needs a head size " +
                       "that is a multiple of " + std::to_string(block) + " (the model has " +
                       std::to_string(shape.head_dim) + ")");
  }
  auto cache = std::unique_ptr<KvCache>(new KvCache());
  cache->shape_ = shape;
  cache->type_ = type;
  cache->n_ctx_ = n_ctx;
  cache->n_seq_ = n_seq;
  cache->head_bytes_ = *RowBytes(type, shape.head_dim);
  size_t per_token = 0;
  for (size_t l = 0; l < shape.k_width.size(); ++l) {
    CHECK(shape.k_width[l] % shape.head_dim == 0 && shape.v_width[l] % shape.head_dim == 0);
    cache->k_row_bytes_.push_back(*RowBytes(type, shape.k_width[l]));
    cache->v_row_bytes_.push_back(*RowBytes(type, shape.v_width[l]));
    per_token += cache->k_row_bytes_.back() + cache->v_row_bytes_.back();
  }
  cache->bytes_per_token_ = per_token;
  const size_t slots = static_cast<size_t>(n_ctx) * static_cast<size_t>(n_seq);
  if (per_token != 0 && slots > kMaxCacheBytes / per_token) {
    return ErrorStatus("KV cache of " + std::to_string(n_seq) + " x " + std::to_string(n_ctx) +
                       " positions would exceed 1 TiB");
  }
  for (size_t l = 0; l < shape.k_width.size(); ++l) {
    // Not value-initialized: large allocations come from mmap, and untouched pages of an unused
    // context cost no memory.
    uint8_t* k = new (std::nothrow) uint8_t[slots * cache->k_row_bytes_[l] + 1];
    uint8_t* v = new (std::nothrow) uint8_t[slots * cache->v_row_bytes_[l] + 1];
    cache->k_.emplace_back(k);
    cache->v_.emplace_back(v);
    if (k == nullptr || v == nullptr) {
      return ErrorStatus("out of memory allocating a KV cache of " +
                         std::to_string(cache->TotalBytes() >> 20) + " MiB");
    }
  }
  return cache;
}

void KvCache::Store(uint8_t* row, const float* x, int32_t width) const {
  if (type_ == DType::kF32) {
    std::memcpy(row, x, sizeof(float) * width);
  } else {
    kernels::QuantizeRows(type_, x, row, 1, width);
  }
}

void KvCache::StoreK(int layer, int32_t seq, int32_t pos, const float* x) {
  DCHECK(pos >= 0 && pos < n_ctx_ && seq >= 0 && seq < n_seq_);
  Store(KRow(layer, seq, pos), x, shape_.k_width[layer]);
}

void KvCache::StoreV(int layer, int32_t seq, int32_t pos, const float* x) {
  DCHECK(pos >= 0 && pos < n_ctx_ && seq >= 0 && seq < n_seq_);
  if (shape_.v_width[layer] == 0) return;
  Store(VRow(layer, seq, pos), x, shape_.v_width[layer]);
}

void KvCache::CopyPrefix(int32_t from, int32_t to, int32_t n) {
  CHECK(from >= 0 && from < n_seq_ && to >= 0 && to < n_seq_ && n >= 0 && n <= n_ctx_);
  if (from == to || n == 0) return;
  for (int l = 0; l < n_layer(); ++l) {
    std::memcpy(KRow(l, to, 0), KRow(l, from, 0), static_cast<size_t>(n) * k_row_bytes_[l]);
    std::memcpy(VRow(l, to, 0), VRow(l, from, 0), static_cast<size_t>(n) * v_row_bytes_[l]);
  }
}

}  // namespace autarky
