// The architecture registry and LoadModel.
#include "model/model.h"

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

void Model::FillFileInfo() {
  if (auto arch = file_->GetString("general.architecture"); arch.ok()) info_.arch = *arch;
  if (auto name = file_->GetString("general.name"); name.ok()) info_.name = *name;
  for (const GgufTensorInfo& t : file_->tensors()) {
    info_.n_params += t.n_elements;
    info_.weight_bytes += t.n_bytes;
  }
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
