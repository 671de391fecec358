// `autarky bench -m MODEL [-p 512] [-n 128] [-t N] [-r 5] [--json]`: prompt-processing and
// generation speed in tokens/s (mean ± stddev over repetitions), as llama-bench measures them:
// pp evaluates p random tokens from an empty context in --batch-size chunks; tg decodes n
// tokens one at a time from an empty context. One unmeasured warm-up run precedes each test.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "util/mapped_file.h"
#include "util/progress.h"

namespace autarky::cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  int repetitions = 5;
  bool json = false;
};

struct Stats {
  int32_t tokens = 0;
  double mean = 0, stddev = 0;
  std::vector<double> samples;  // tokens/s per repetition
};

Stats Summarize(int32_t tokens, std::vector<double> samples) {
  Stats s;
  s.tokens = tokens;
  for (double x : samples) s.mean += x;
  s.mean /= samples.size();
  for (double x : samples) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = samples.size() > 1 ? std::sqrt(s.stddev / (samples.size() - 1)) : 0.0;
  s.samples = std::move(samples);
  return s;
}

std::vector<int32_t> RandomTokens(int32_t n, int32_t n_vocab, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = static_cast<int32_t>(gen() % static_cast<uint32_t>(n_vocab));
  return tokens;
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Seconds to evaluate `tokens` as a prompt.
Result<double> TimePrompt(InferenceContext& ctx, const std::vector<int32_t>& tokens) {
  std::vector<float> logits;
  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(ctx.Eval(tokens, 0, 0, false, logits));
  return Seconds(start, std::chrono::steady_clock::now());
}

// Seconds to decode `tokens` one by one (each feeding the next position).
Result<double> TimeGeneration(InferenceContext& ctx, const std::vector<int32_t>& tokens) {
  std::vector<float> logits;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t one[] = {tokens[i]};
    RETURN_IF_ERROR(ctx.Eval(one, 0, static_cast<int32_t>(i), false, logits));
  }
  return Seconds(start, std::chrono::steady_clock::now());
}

int RunBench(const BenchFlags& flags) {
  ModelFlags model_flags = flags.model;
  // The context only needs to hold the longer test.
  const int32_t needed = std::max(flags.n_prompt, flags.n_gen);
  if (model_flags.ctx_size == 0 || model_flags.ctx_size < needed) model_flags.ctx_size = needed;
  auto loaded = LoadModelAndContext(model_flags);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  InferenceContext& ctx = *loaded->context;
  const ModelInfo& info = loaded->model->info();
  const int threads = ctx.pool().num_threads();

  auto run_test = [&](int32_t n, bool prompt, Stats& out) -> Status {
    if (n <= 0) return Status::Ok();
    const auto tokens = RandomTokens(n, info.n_vocab, prompt ? 1234 : 5678);
    auto once = [&]() { return prompt ? TimePrompt(ctx, tokens) : TimeGeneration(ctx, tokens); };
    ASSIGN_OR_RETURN(double warmup, once());
    (void)warmup;
    std::vector<double> samples;
    for (int r = 0; r < flags.repetitions; ++r) {
      ASSIGN_OR_RETURN(double seconds, once());
      samples.push_back(n / seconds);
    }
    out = Summarize(n, std::move(samples));
    return Status::Ok();
  };
  Stats pp, tg;
  if (Status s = run_test(flags.n_prompt, true, pp); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  if (Status s = run_test(flags.n_gen, false, tg); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  PrintExpertUsage(ctx);  // --verbose: over the warm-up and measured runs

  // Weights mapped with huge pages decode faster (see util/mapped_file.cc); worth knowing when
  // comparing numbers across machines and runs.
  const size_t huge_bytes = HugePageBytesIn(nullptr, SIZE_MAX);
  if (flags.json) {
    nlohmann::ordered_json j;
    j["model"] = flags.model.model_path;
    j["arch"] = info.arch;
    j["params"] = info.n_params;
    j["size_bytes"] = info.weight_bytes;
    j["threads"] = threads;
    j["batch_size"] = ctx.n_batch();
    j["kv_type"] = flags.model.kv_type;
    j["repetitions"] = flags.repetitions;
    j["huge_page_bytes"] = huge_bytes;
    auto put = [&](const char* key, const Stats& s) {
      if (s.tokens == 0) return;
      j[key] = {{"tokens", s.tokens}, {"tokens_per_s", s.mean}, {"stddev", s.stddev},
                {"samples", s.samples}};
    };
    put("pp", pp);
    put("tg", tg);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("| model | size | params | threads | test | t/s |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  const std::string size = ProgressBar::FormatBytes(info.weight_bytes);
  auto row = [&](const char* test, const Stats& s) {
    if (s.tokens == 0) return;
    std::printf("| %s | %s | %s | %d | %s%d | %.2f ± %.2f |\n", info.arch.c_str(), size.c_str(),
                FormatCount(info.n_params).c_str(), threads, test, s.tokens, s.mean, s.stddev);
  };
  row("pp", pp);
  row("tg", tg);
  std::fprintf(stderr, "memory mapped with huge pages: %s of %s weights\n",
               ProgressBar::FormatBytes(huge_bytes).c_str(), size.c_str());
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure prompt processing (pp) and generation (tg) speed in tokens/s");
  AddModelFlags(cmd, flags->model, 0);
  AddVerboseFlag(cmd, flags->model);
  cmd->add_option("-p,--n-prompt", flags->n_prompt, "Prompt tokens for the pp test (0: skip)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", flags->n_gen, "Generated tokens for the tg test (0: skip)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", flags->repetitions, "Measured runs of each test")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print one JSON object instead of a table");
  cmd->callback([flags, &exit_code]() { exit_code = RunBench(*flags); });
}

}  // namespace autarky::cli
