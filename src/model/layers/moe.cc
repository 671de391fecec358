// Expert routing and the per-expert batched SwiGLU.
#include "model/layers/moe.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "kernels/quantize.h"
#include "model/layers/linear.h"
#include "util/check.h"
#include "util/thread_pool.h"

namespace autarky {

Result<ExpertMatrices> LoadExperts(const GgufFile& file, const std::string& name, int64_t k,
                                   int64_t n_out, int64_t n_expert) {
  const GgufTensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return ErrorStatus(file.name() + ": tensor '" + name + "': missing");
  if (t->n_dims != 3 || t->dims[0] != k || t->dims[1] != n_out || t->dims[2] != n_expert) {
    return ErrorStatus(file.name() + ": tensor '" + name + "': expected shape {" +
                       std::to_string(k) + ", " + std::to_string(n_out) + ", " +
                       std::to_string(n_expert) + "}");
  }
  const kernels::WeightKernels* kern = kernels::FindWeightKernels(t->type);
  if (kern == nullptr || k % Traits(t->type).block_elems != 0 ||
      k % Traits(kern->act_type).block_elems != 0) {
    return ErrorStatus(file.name() + ": tensor '" + name + "': type " +
                       std::string(DTypeName(t->type)) + " with rows of " + std::to_string(k) +
                       " is not supported for weights");
  }
  ExpertMatrices m;
  m.first.type = t->type;
  m.first.data = t->data;
  m.first.k = k;
  m.first.n_out = n_out;
  m.first.row_stride = *RowBytes(t->type, k);
  m.n_expert = n_expert;
  m.expert_bytes = m.first.row_stride * static_cast<size_t>(n_out);
  return m;
}

namespace {

// True when a ranks before b: larger score, ties to the lower index.
bool Better(const float* score, int a, int b) {
  return score[a] > score[b] || (score[a] == score[b] && a < b);
}

}  // namespace

void RouteToken(const RouterConfig& c, const float* logits, const float* bias, int32_t* ids,
                float* weights, float* work) {
  const int n = c.n_expert;
  float* probs = work;       // {n_expert}
  float* select = work + n;  // {n_expert} selection scores; -inf: excluded
  if (c.sigmoid) {
    for (int e = 0; e < n; ++e) probs[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  } else {
    float max = logits[0];
    for (int e = 1; e < n; ++e) max = logits[e] > max ? logits[e] : max;
    double sum = 0.0;
    for (int e = 0; e < n; ++e) {
      probs[e] = std::exp(logits[e] - max);
      sum += probs[e];
    }
    for (int e = 0; e < n; ++e) probs[e] = static_cast<float>(probs[e] / sum);
  }
  for (int e = 0; e < n; ++e) select[e] = probs[e] + (bias != nullptr ? bias[e] : 0.0f);

  if (c.n_group > 1 && c.n_group_used < c.n_group) {
    // Each group is scored by the sum of its two best selection scores with sigmoid scoring
    // (V3's noaux_tc), by its best with softmax (V2's group_limited_greedy).
    const int per_group = n / c.n_group;
    constexpr int kMaxGroups = 256;
    CHECK(c.n_group <= kMaxGroups);
    float group_score[kMaxGroups];
    bool keep[kMaxGroups] = {};
    for (int g = 0; g < c.n_group; ++g) {
      const float* s = select + g * per_group;
      int best = 0;
      for (int i = 1; i < per_group; ++i) best = Better(s, i, best) ? i : best;
      int second = -1;
      for (int i = 0; i < per_group; ++i) {
        if (i != best && (second < 0 || Better(s, i, second))) second = i;
      }
      group_score[g] = s[best] + (c.sigmoid && second >= 0 ? s[second] : 0.0f);
    }
    for (int k = 0; k < c.n_group_used; ++k) {
      int best = -1;
      for (int g = 0; g < c.n_group; ++g) {
        if (!keep[g] && (best < 0 || Better(group_score, g, best))) best = g;
      }
      keep[best] = true;
    }
    for (int g = 0; g < c.n_group; ++g) {
      if (keep[g]) continue;
      for (int i = 0; i < per_group; ++i) select[g * per_group + i] = -INFINITY;
    }
  }

  // Top n_used by repeated selection (n_used is small).
  double sum = 0.0;
  for (int k = 0; k < c.n_used; ++k) {
    int best = -1;
    for (int e = 0; e < n; ++e) {
      if (select[e] == -INFINITY) continue;
      bool taken = false;
      for (int j = 0; j < k; ++j) taken = taken || ids[j] == e;
      if (!taken && (best < 0 || Better(select, e, best))) best = e;
    }
    CHECK(best >= 0);
    ids[k] = best;
    weights[k] = probs[best];
    sum += probs[best];
  }
  for (int k = 0; k < c.n_used; ++k) {
    if (c.norm) weights[k] = static_cast<float>(weights[k] / sum);
    weights[k] *= c.scale;
  }
}

namespace {

// Experts per token that the one-token path handles (V2: 6, V3: 8).
constexpr int kMaxExpertsUsed = 32;

// MoeForward for one token on several threads. The batch path runs three products per expert,
// each a parallel region of its own with a join; for one token those are small (a V2-Lite
// expert matrix is about 1.6 MB) and 3 * n_used joins per layer cost about 6% of decode. Here
// all the experts' gate and up rows and their SwiGLU take one region (each thread the same
// rows of every gate and up, so it can apply SwiGLU to its rows alone), and all the down rows
// a second. Every row is computed by the same kernel as in the batch path, and the weighted
// sum runs over the experts in ascending id order, so the result is the same bits.
void MoeOneToken(const MoeWeights& w, int n_used, const float* x, const int32_t* ids,
                 const float* weights, float* out, MoeScratch& s, ThreadPool& pool) {
  const int64_t d = w.gate.first.k;
  const int64_t ff = w.gate.first.n_out;
  const kernels::WeightKernels* gate_k = kernels::FindWeightKernels(w.gate.first.type);
  const kernels::WeightKernels* up_k = kernels::FindWeightKernels(w.up.first.type);
  const kernels::WeightKernels* down_k = kernels::FindWeightKernels(w.down.first.type);
  CHECK(gate_k != nullptr && up_k != nullptr && down_k != nullptr);
  // Experts in ascending id order (the order of the weighted sum).
  std::array<int, kMaxExpertsUsed> order;
  CHECK(n_used <= kMaxExpertsUsed);
  for (int k = 0; k < n_used; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.begin() + n_used,
                   [&](int a, int b) { return ids[a] < ids[b]; });

  s.gates.resize(n_used * ff);
  s.ups.resize(n_used * ff);
  s.ys.resize(n_used * d);
  if (s.hidden_acts.size() < static_cast<size_t>(n_used)) s.hidden_acts.resize(n_used);
  const kernels::QuantizedActs gate_acts =
      kernels::QuantizeActivations(*gate_k, x, 1, d, d, nullptr, s.acts[0]);
  const kernels::QuantizedActs up_acts =
      up_k->act_type == gate_k->act_type
          ? gate_acts
          : kernels::QuantizeActivations(*up_k, x, 1, d, d, nullptr, s.acts[1]);
  const kernels::OpsKernels& ops = kernels::GetOpsKernels();
  const int n_threads = pool.num_threads();
  pool.RunOnEachThread([&](int t) {
    const IndexRange rows = SplitRange(ff, n_threads, t, kernels::kMatmulRowTile);
    if (rows.size() <= 0) return;
    for (int k = 0; k < n_used; ++k) {
      float* gate = &s.gates[k * ff];
      float* up = &s.ups[k * ff];
      kernels::MatmulQuantizedRows(w.gate.Expert(ids[k]), gate_acts, gate, ff, *gate_k, rows.begin,
                                   rows.end);
      kernels::MatmulQuantizedRows(w.up.Expert(ids[k]), up_acts, up, ff, *up_k, rows.begin,
                                   rows.end);
      // Ranges start at multiples of kMatmulRowTile (16), a multiple of every SIMD width, so
      // SwiGLU over a range gives the bits it gives over the whole row.
      ops.swiglu(gate + rows.begin, up + rows.begin, gate + rows.begin, rows.size());
    }
  });
  kernels::QuantizedActs hidden[kMaxExpertsUsed];
  for (int k = 0; k < n_used; ++k) {
    hidden[k] = kernels::QuantizeActivations(*down_k, &s.gates[k * ff], 1, ff, ff, nullptr,
                                             s.hidden_acts[k]);
  }
  pool.RunOnEachThread([&](int t) {
    const IndexRange rows = SplitRange(d, n_threads, t, kernels::kMatmulRowTile);
    if (rows.size() <= 0) return;
    for (int k = 0; k < n_used; ++k) {
      kernels::MatmulQuantizedRows(w.down.Expert(ids[k]), hidden[k], &s.ys[k * d], d, *down_k,
                                   rows.begin, rows.end);
    }
  });
  std::memset(out, 0, sizeof(float) * d);
  for (int i = 0; i < n_used; ++i) {
    const int k = order[i];
    const float wt = weights[k];
    const float* y = &s.ys[k * d];
    for (int64_t j = 0; j < d; ++j) out[j] += wt * y[j];
  }
}

}  // namespace

void MoeForward(const MoeWeights& w, int n_used, const float* x, int64_t n_tokens,
                const int32_t* ids, const float* weights, float* out, MoeScratch& s,
                ThreadPool& pool, kernels::MatmulScratch& matmul, uint64_t* usage) {
  const int64_t d = w.gate.first.k;
  const int64_t ff = w.gate.first.n_out;
  if (n_tokens == 1 && pool.num_threads() > 1 && n_used <= kMaxExpertsUsed) {
    if (usage != nullptr) {
      for (int k = 0; k < n_used; ++k) usage[ids[k]] += 1;
    }
    MoeOneToken(w, n_used, x, ids, weights, out, s, pool);
    return;
  }
  if (static_cast<int64_t>(s.rows.size()) < n_tokens) {
    s.rows.resize(n_tokens);
    s.x.resize(n_tokens * d);
    s.gate.resize(n_tokens * ff);
    s.up.resize(n_tokens * ff);
    s.y.resize(n_tokens * d);
  }
  std::memset(out, 0, sizeof(float) * n_tokens * d);
  kernels::MatmulOptions options;
  options.pool = &pool;
  options.scratch = &matmul;
  const kernels::OpsKernels& ops = kernels::GetOpsKernels();
  for (int64_t e = 0; e < w.gate.n_expert; ++e) {
    // Gather the tokens routed to e, with their weights.
    int64_t n = 0;
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int k = 0; k < n_used; ++k) {
        if (ids[t * n_used + k] == e) {
          s.rows[n] = static_cast<int32_t>(t * n_used + k);
          std::memcpy(&s.x[n * d], x + t * d, sizeof(float) * d);
          ++n;
        }
      }
    }
    if (n == 0) continue;
    if (usage != nullptr) usage[e] += static_cast<uint64_t>(n);
    const kernels::WeightMatrix gate = w.gate.Expert(e), up = w.up.Expert(e);
    const Projection gate_up[] = {{&gate, nullptr, s.gate.data(), static_cast<size_t>(ff)},
                                  {&up, nullptr, s.up.data(), static_cast<size_t>(ff)}};
    ProjectShared(s.x.data(), n, d, gate_up, pool, matmul);
    for (int64_t r = 0; r < n; ++r) ops.swiglu(&s.gate[r * ff], &s.up[r * ff], &s.gate[r * ff], ff);
    kernels::Matmul(w.down.Expert(e), s.gate.data(), n, s.y.data(), options);
    for (int64_t r = 0; r < n; ++r) {
      const int64_t t = s.rows[r] / n_used;
      const float wt = weights[s.rows[r]];
      float* o = out + t * d;
      const float* y = &s.y[r * d];
      for (int64_t i = 0; i < d; ++i) o[i] += wt * y[i];
    }
  }
}

}  // namespace autarky
