// `autarky pull REF`, `autarky list` and `autarky rm REF`: the Hugging Face model cache
// (src/hub).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "hub/cache.h"
#include "hub/pull.h"
#include "hub/ref.h"
#include "util/progress.h"

namespace autarky::cli {
namespace {

struct PullArgs {
  std::vector<std::string> refs;
  bool quiet = false;
};

int RunPull(const PullArgs& args) {
  auto cache = hub::ModelCache::FromEnvironment();
  if (!cache.ok()) {
    std::fprintf(stderr, "autarky pull: %s\n", cache.status().message().c_str());
    return 1;
  }
  hub::PullOptions options = hub::PullOptionsFromEnvironment();
  options.quiet = args.quiet;
  int failures = 0;
  for (const std::string& text : args.refs) {
    auto ref = hub::ParseRef(text);
    auto manifest =
        ref.ok() ? hub::Pull(*cache, *ref, options) : Result<hub::Manifest>(ref.status());
    if (!manifest.ok()) {
      std::fprintf(stderr, "autarky pull: %s\n", manifest.status().message().c_str());
      ++failures;
      continue;
    }
    std::printf("%s\t%s\t%s\n", manifest->name.c_str(),
                ProgressBar::FormatBytes(static_cast<uint64_t>(manifest->TotalBytes())).c_str(),
                cache->ModelPath(*manifest).c_str());
  }
  return failures == 0 ? 0 : 1;
}

int RunList(bool json) {
  auto cache = hub::ModelCache::FromEnvironment();
  if (!cache.ok()) {
    std::fprintf(stderr, "autarky list: %s\n", cache.status().message().c_str());
    return 1;
  }
  const std::vector<hub::Manifest> models = cache->List();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const hub::Manifest& m : models) {
      out.push_back({{"name", m.name},
                     {"aliases", m.aliases},
                     {"kind", m.kind},
                     {"size", m.TotalBytes()},
                     {"files", m.files.size()},
                     {"path", cache->ModelPath(m)},
                     {"commit", m.commit},
                     {"pulled_at", m.pulled_at}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (models.empty()) {
    std::printf("no models in %s (autarky pull REF adds one)\n", cache->root().c_str());
    return 0;
  }
  size_t width = 4;
  for (const hub::Manifest& m : models) width = std::max(width, m.name.size());
  std::printf("%-*s  %10s  %s\n", static_cast<int>(width), "NAME", "SIZE", "PATH");
  for (const hub::Manifest& m : models) {
    std::printf("%-*s  %10s  %s\n", static_cast<int>(width), m.name.c_str(),
                ProgressBar::FormatBytes(static_cast<uint64_t>(m.TotalBytes())).c_str(),
                cache->ModelPath(m).c_str());
  }
  return 0;
}

int RunRemove(const std::vector<std::string>& refs) {
  auto cache = hub::ModelCache::FromEnvironment();
  if (!cache.ok()) {
    std::fprintf(stderr, "autarky rm: %s\n", cache.status().message().c_str());
    return 1;
  }
  int failures = 0;
  for (const std::string& text : refs) {
    auto ref = hub::ParseRef(text);
    if (!ref.ok()) {
      std::fprintf(stderr, "autarky rm: %s\n", ref.status().message().c_str());
      ++failures;
      continue;
    }
    const std::optional<hub::Manifest> manifest = cache->Find(*ref);
    if (!manifest) {
      std::fprintf(stderr, "autarky rm: %s is not in the cache (autarky list shows its names)\n",
                   text.c_str());
      ++failures;
      continue;
    }
    const Status status = cache->Remove(*manifest);
    if (!status.ok()) {
      std::fprintf(stderr, "autarky rm: %s\n", status.message().c_str());
      ++failures;
      continue;
    }
    std::printf("removed %s\n", manifest->name.c_str());
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void AddPullCommands(CLI::App& app, int& exit_code) {
  auto pull_args = std::make_shared<PullArgs>();
  CLI::App* pull = app.add_subcommand(
      "pull",
      "Download a model from Hugging Face into the cache ($AUTARKY_HOME, default "
      "~/.cache/autarky). REF: owner/repo (Q4_K_M GGUF, else the safetensors set), "
      "owner/repo:QUANT, owner/repo/FILE.gguf, any of them @REVISION, or an alias such as "
      "deepseek-r1:1.5b. HF_TOKEN authenticates (gated repos); HF_ENDPOINT selects a mirror.");
  pull->add_option("ref", pull_args->refs, "Model reference(s) or alias(es)")->required();
  pull->add_flag("-q,--quiet", pull_args->quiet, "No progress bars");
  pull->callback([pull_args, &exit_code] { exit_code = RunPull(*pull_args); });

  auto json = std::make_shared<bool>(false);
  CLI::App* list = app.add_subcommand("list", "List the models in the cache (name, size, path)");
  list->add_flag("--json", *json, "Machine-readable output");
  list->callback([json, &exit_code] { exit_code = RunList(*json); });

  auto rm_refs = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = app.add_subcommand("rm", "Remove models from the cache");
  rm->add_option("ref", *rm_refs, "Names as `autarky list` shows them, or aliases")->required();
  rm->callback([rm_refs, &exit_code] { exit_code = RunRemove(*rm_refs); });
}

}  // namespace autarky::cli
