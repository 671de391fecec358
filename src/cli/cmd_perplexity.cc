// `autarky perplexity -m MODEL -f TEXT [--ctx 512]`: the standard chunked perplexity, computed
// as llama.cpp's llama-perplexity does so the numbers compare: the text is tokenized once (BOS
// first when the vocabulary adds one), cut into chunks of ctx tokens, each chunk evaluated from
// an empty cache with its first token replaced by BOS, and the negative log-likelihood of each
// token in the second half of the chunk given everything before it averaged over all chunks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "tokenizer/tokenizer.h"

namespace autarky::cli {
namespace {

struct PerplexityFlags {
  ModelFlags model;
  std::string text_file;
  int32_t n_chunks = -1;
};

// -log softmax(logits)[target], in double.
double NegativeLogLikelihood(const float* logits, int32_t n_vocab, int32_t target) {
  float max = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) max = logits[i] > max ? logits[i] : max;
  double sum = 0.0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  return std::log(sum) - static_cast<double>(logits[target] - max);
}

int RunPerplexity(const PerplexityFlags& flags) {
  auto loaded = LoadModelAndContext(flags.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  InferenceContext& ctx = *loaded->context;
  auto tokenizer = Tokenizer::FromGguf(loaded->model->file());
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "error: %s\n", tokenizer.status().message().c_str());
    return 1;
  }
  std::ifstream in(flags.text_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read '%s'\n", flags.text_file.c_str());
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::vector<int32_t> tokens = (*tokenizer)->Encode(text, EncodeOptions{});
  const int32_t n_ctx = ctx.n_ctx();
  const int32_t n_vocab = ctx.n_vocab();
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (flags.n_chunks > 0 && flags.n_chunks < n_chunks) n_chunks = flags.n_chunks;
  if (n_chunks == 0 || n_ctx < 4) {
    std::fprintf(stderr,
                 "error: the text has %zu tokens; perplexity needs at least one chunk of --ctx-size "
                 "%d tokens (use a longer text or a smaller --ctx-size)\n",
                 tokens.size(), n_ctx);
    return 1;
  }
  const bool add_bos = (*tokenizer)->add_bos() && (*tokenizer)->bos_id() >= 0;
  // Only the second half of each chunk is scored: those tokens all see at least n_ctx/2 of
  // context, which makes the estimate less dependent on where chunks start.
  const int32_t first = n_ctx / 2;
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %d, scoring the last %d of each\n",
               tokens.size(), static_cast<long long>(n_chunks), n_ctx, n_ctx - first - 1);

  double nll = 0.0, nll2 = 0.0;
  int64_t count = 0;
  std::vector<float> logits;
  std::vector<int32_t> chunk(n_ctx);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx, chunk.begin());
    if (add_bos) chunk[0] = (*tokenizer)->bos_id();
    if (Status s = ctx.Eval(chunk, 0, 0, true, logits); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
    for (int32_t j = first; j < n_ctx - 1; ++j) {
      // Row j predicts the original token at j + 1 (never the replaced BOS).
      const double v = NegativeLogLikelihood(&logits[static_cast<size_t>(j) * n_vocab], n_vocab,
                                             tokens[c * n_ctx + j + 1]);
      nll += v;
      nll2 += v * v;
      ++count;
    }
    std::printf("[%lld]%.4f,", static_cast<long long>(c + 1), std::exp(nll / count));
    std::fflush(stdout);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mean = nll / count;
  const double ppl = std::exp(mean);
  // Standard error of the mean NLL, carried to the perplexity to first order.
  const double variance = count > 1 ? (nll2 / count - mean * mean) * count / (count - 1) : 0.0;
  const double ppl_err = ppl * std::sqrt(std::max(variance, 0.0) / count);
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, ppl_err);
  std::fprintf(stderr, "%lld tokens scored in %.1f s (%.1f tokens/s evaluated)\n",
               static_cast<long long>(count), seconds, n_chunks * n_ctx / seconds);
  return 0;
}

}  // namespace

void AddPerplexityCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity of a model on a text file, chunked as llama-perplexity does");
  AddModelFlags(cmd, flags->model, 512);
  cmd->add_option("-f,--file", flags->text_file, "Text file to score")->required();
  cmd->add_option("--ctx", flags->model.ctx_size, "Chunk size in tokens (same as --ctx-size)")
      ->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--chunks", flags->n_chunks, "Score at most this many chunks (-1: all)")
      ->capture_default_str();
  cmd->callback([flags, &exit_code]() { exit_code = RunPerplexity(*flags); });
}

}  // namespace autarky::cli
