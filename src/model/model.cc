// The architecture registry and LoadModel.
#include "model/model.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "io/gguf_split.h"

namespace autarky {

extern const ArchSpec kLlamaArchSpec;      // arch/llama.cc
extern const ArchSpec kDeepseek2ArchSpec;  // arch/deepseek2.cc

namespace {
const ArchSpec* const kArchSpecs[] = {&kLlamaArchSpec, &kDeepseek2ArchSpec};
}  // namespace

std::span<const ArchSpec* const> AllArchSpecs() { return kArchSpecs; }

const ArchSpec* FindArchSpec(std::string_view arch) {
  for (const ArchSpec* spec : kArchSpecs) {
    for (std::string_view name : spec->arch_names) {
      if (name == arch) return spec;
    }
  }
  return nullptr;
}

Status CheckRange(const GgufFile& f, const std::string& key, int64_t value, int64_t lo,
                  int64_t hi) {
  if (value < lo || value > hi) {
    return ErrorStatus(f.name() + ": " + key + " = " + std::to_string(value) + " is outside [" +
                       std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return Status::Ok();
}

void Model::FillFileInfo() {
  if (auto arch = file_->GetString("general.architecture"); arch.ok()) info_.arch = *arch;
  if (auto name = file_->GetString("general.name"); name.ok()) info_.name = *name;
  for (const GgufTensorInfo& t : file_->tensors()) {
    info_.n_params += t.n_elements;
    info_.weight_bytes += t.n_bytes;
  }
}

std::string FormatExpertUsage(const ExpertUsage& u) {
  if (u.layers.empty() || u.n_expert <= 0) return {};
  constexpr int kTopExperts = 4;
  const size_t ne = static_cast<size_t>(u.n_expert);
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "expert usage: tokens served per routed expert (%d of %d chosen per token)\n",
                u.n_used, u.n_expert);
  out += line;
  uint64_t touched_bytes = 0, all_bytes = 0;
  std::vector<uint64_t> sorted(ne);
  std::vector<int> order(ne);
  for (size_t i = 0; i < u.layers.size(); ++i) {
    const uint64_t* c = u.Layer(i);
    sorted.assign(c, c + ne);
    std::sort(sorted.begin(), sorted.end());
    // The lower median for an even count: always a count some expert really has.
    const uint64_t median = sorted[(ne - 1) / 2];
    int touched = 0;
    for (size_t e = 0; e < ne; ++e) touched += c[e] > 0 ? 1 : 0;
    touched_bytes += static_cast<uint64_t>(touched) * u.expert_bytes[i];
    all_bytes += ne * u.expert_bytes[i];
    std::iota(order.begin(), order.end(), 0);
    const int top = std::min<int>(kTopExperts, u.n_expert);
    std::partial_sort(order.begin(), order.begin() + top, order.end(),
                      [c](int a, int b) { return c[a] > c[b] || (c[a] == c[b] && a < b); });
    std::snprintf(line, sizeof line,
                  "  layer %3d: min %llu median %llu max %llu, %d/%d touched, top", u.layers[i],
                  static_cast<unsigned long long>(sorted.front()),
                  static_cast<unsigned long long>(median),
                  static_cast<unsigned long long>(sorted.back()), touched, u.n_expert);
    out += line;
    for (int k = 0; k < top && c[order[k]] > 0; ++k) {
      std::snprintf(line, sizeof line, " %d:%llu", order[k],
                    static_cast<unsigned long long>(c[order[k]]));
      out += line;
    }
    out += "\n";
  }
  constexpr double kMiB = 1024.0 * 1024.0;
  std::snprintf(line, sizeof line, "expert weights touched: %.1f MiB of %.1f MiB (%.1f%%)\n",
                touched_bytes / kMiB, all_bytes / kMiB,
                all_bytes > 0 ? 100.0 * static_cast<double>(touched_bytes) / all_bytes : 0.0);
  out += line;
  return out;
}

Result<std::unique_ptr<Model>> LoadModel(std::shared_ptr<const GgufFile> file) {
  ASSIGN_OR_RETURN(std::string_view arch, file->GetString("general.architecture"));
  const ArchSpec* spec = FindArchSpec(arch);
  if (spec == nullptr) {
    std::string known;
    for (const ArchSpec* s : kArchSpecs) {
      for (std::string_view name : s->arch_names) {
        known += known.empty() ? "" : ", ";
        known += name;
      }
    }
    return ErrorStatus(file->name() + ": architecture '" + std::string(arch) +
                       "' is not supported (supported: " + known + ")");
  }
  return spec->load(std::move(file), arch);
}

Result<std::unique_ptr<Model>> LoadModel(const std::string& path, FileLoad mode) {
  ASSIGN_OR_RETURN(GgufFile file, OpenGgufModel(path, mode));
  return LoadModel(std::make_shared<const GgufFile>(std::move(file)));
}

}  // namespace autarky
