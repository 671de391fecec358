// Tokenizer benchmarks: encoding 1 MB of English and 1 MB of Chinese text with the shared
// vocabularies (Qwen2 with NFC, Llama 3, DeepSeek V3, GPT-2, Llama 2 SPM), vocabulary loading
// and decoding. The texts are generated (deterministic): English words drawn with Zipf's law
// (frequency ~ 1/rank, as in real prose) in sentences and paragraphs, Chinese clauses of common
// characters with Chinese punctuation and some digits and Latin words.
// Needs ../shared (AUTARKY_SHARED_DIR overrides); skipped with a message otherwise.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "io/gguf_reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace autarky::bench {
namespace {

constexpr size_t kTextBytes = size_t{1} << 20;

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("AUTARKY_SHARED_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared";
}

// The 200 most common English words, roughly in frequency order.
constexpr const char* kEnglishWords[] = {
    "the",     "of",        "and",          "to",        "a",         "in",     "is",     "it",
    "you",     "that",      "he",           "was",       "for",       "on",     "are",    "with",
    "as",      "I",         "his",          "they",      "be",        "at",     "one",    "have",
    "this",    "from",      "or",           "had",       "by",        "not",    "word",   "but",
    "what",    "some",      "we",           "can",       "out",       "other",  "were",   "all",
    "there",   "when",      "up",           "use",       "your",      "how",    "said",   "an",
    "each",    "she",       "which",        "do",        "their",     "time",   "if",     "will",
    "way",     "about",     "many",         "then",      "them",      "write",  "would",  "like",
    "so",      "these",     "her",          "long",      "make",      "thing",  "see",    "him",
    "two",     "has",       "look",         "more",      "day",       "could",  "go",     "come",
    "did",     "number",    "sound",        "no",        "most",      "people", "my",     "over",
    "know",    "water",     "than",         "call",      "first",     "who",    "may",    "down",
    "side",    "been",      "now",          "find",      "any",       "new",    "work",   "part",
    "take",    "get",       "place",        "made",      "live",      "where",  "after",  "back",
    "little",  "only",      "round",        "man",       "year",      "came",   "show",   "every",
    "good",    "me",        "give",         "our",       "under",     "name",   "very",   "through",
    "just",    "form",      "sentence",     "great",     "think",     "say",    "help",   "low",
    "line",    "differ",    "turn",         "cause",     "much",      "mean",   "before", "move",
    "right",   "boy",       "old",          "too",       "same",      "tell",   "does",   "set",
    "three",   "want",      "air",          "well",      "also",      "play",   "small",  "end",
    "put",     "home",      "read",         "hand",      "port",      "large",  "spell",  "add",
    "even",    "land",      "here",         "must",      "big",       "high",   "such",   "follow",
    "act",     "why",       "ask",          "men",       "change",    "went",   "light",  "kind",
    "off",     "need",      "house",        "picture",   "try",       "us",     "again",  "animal",
    "point",   "mother",    "world",        "near",      "build",     "self",   "earth",  "father",
    "model",   "inference", "quantization", "tokenizer", "reasoning", "don't",  "it's",   "we're",
    "they'll", "couldn't",  "1024",         "2025",      "3.14"};

constexpr std::string_view kChineseChars =
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对"
    "着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又"
    "定见只主没公从已想样新现本全加理体力第外间开社民把物美相工机部高问意实文重动合结情还位电正明"
    "数研模型推理语言计算数据训练参数向量矩阵注意力层网络输入输出温度概率分布思考回答用户系统";

std::string EnglishText(size_t bytes) {
  std::mt19937 rng(12345);
  const size_t n_words = std::size(kEnglishWords);
  // Zipf: P(rank r) ~ 1/(r+1).
  std::vector<double> weights(n_words);
  for (size_t r = 0; r < n_words; ++r) weights[r] = 1.0 / static_cast<double>(r + 1);
  std::discrete_distribution<size_t> word(weights.begin(), weights.end());
  std::uniform_int_distribution<int> sentence_length(5, 25);
  std::uniform_int_distribution<int> percent(0, 99);
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    const int n = sentence_length(rng);
    for (int i = 0; i < n; ++i) {
      std::string w = kEnglishWords[word(rng)];
      if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
      out += w;
      if (i + 1 < n) out += percent(rng) < 8 ? ", " : " ";
    }
    const int p = percent(rng);
    out += p < 80 ? "." : p < 90 ? "?" : "!";
    out += percent(rng) < 15 ? "\n\n" : " ";
  }
  out.resize(bytes);
  return SanitizeUtf8(out);
}

std::string ChineseText(size_t bytes) {
  std::mt19937 rng(54321);
  std::vector<std::string> chars;
  for (size_t i = 0; i < kChineseChars.size();) {
    const size_t n = Utf8LengthFromLead(static_cast<uint8_t>(kChineseChars[i]));
    chars.emplace_back(kChineseChars.substr(i, n));
    i += n;
  }
  std::uniform_int_distribution<size_t> pick(0, chars.size() - 1);
  std::uniform_int_distribution<int> clause_length(4, 15);
  std::uniform_int_distribution<int> percent(0, 99);
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    const int clauses = 1 + percent(rng) % 3;
    for (int c = 0; c < clauses; ++c) {
      for (int i = clause_length(rng); i > 0; --i) out += chars[pick(rng)];
      const int p = percent(rng);
      if (p < 5) out += std::to_string(p * 397 % 2025) + "年";
      if (p >= 95) out += " AI ";
      out += c + 1 < clauses ? "，" : (p < 80 ? "。" : p < 90 ? "？" : "！");
    }
    if (percent(rng) < 10) out += "\n";
  }
  out.resize(bytes);
  return SanitizeUtf8(out);  // the cut may have split a character
}

const std::string& Text(bool chinese) {
  static const std::string english = EnglishText(kTextBytes);
  static const std::string chinese_text = ChineseText(kTextBytes);
  return chinese ? chinese_text : english;
}

std::unique_ptr<Tokenizer> LoadVocab(const std::string& name, std::string* error) {
  const auto path = SharedDir() / "golden" / "tokenizer" / (name + ".gguf");
  Result<GgufFile> file = GgufFile::Open(path.string());
  if (!file.ok()) {
    *error = file.status().message() + " (this benchmark needs ../shared)";
    return nullptr;
  }
  auto tokenizer = Tokenizer::FromGguf(*file);
  if (!tokenizer.ok()) {
    *error = tokenizer.status().message();
    return nullptr;
  }
  return std::move(tokenizer).value();
}

void BM_TokenizerEncode(benchmark::State& state, const std::string& vocab, bool chinese) {
  std::string error;
  const std::unique_ptr<Tokenizer> tokenizer = LoadVocab(vocab, &error);
  if (tokenizer == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string& text = Text(chinese);
  size_t n_tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids = tokenizer->Encode(text, {.add_special = false});
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / n_tokens;
}

void BM_TokenizerDecode(benchmark::State& state, const std::string& vocab) {
  std::string error;
  const std::unique_ptr<Tokenizer> tokenizer = LoadVocab(vocab, &error);
  if (tokenizer == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::vector<int32_t> ids = tokenizer->Encode(Text(false), {.add_special = false});
  for (auto _ : state) {
    const std::string text = tokenizer->Decode(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}

void BM_TokenizerLoad(benchmark::State& state, const std::string& vocab) {
  for (auto _ : state) {
    std::string error;
    const std::unique_ptr<Tokenizer> tokenizer = LoadVocab(vocab, &error);
    if (tokenizer == nullptr) {
      state.SkipWithError(error.c_str());
      return;
    }
    benchmark::DoNotOptimize(tokenizer.get());
  }
}

}  // namespace

void RegisterTokenizerBenchmarks() {
  for (const char* vocab : {"qwen2", "llama3", "deepseek-v3", "gpt-2", "llama-spm"}) {
    for (const bool chinese : {false, true}) {
      const std::string name =
          std::string("BM_TokenizerEncode/") + vocab + (chinese ? "/chinese_1MB" : "/english_1MB");
      benchmark::RegisterBenchmark(name.c_str(), BM_TokenizerEncode, std::string(vocab), chinese)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.5);
    }
  }
  benchmark::RegisterBenchmark("BM_TokenizerDecode/qwen2", BM_TokenizerDecode, std::string("qwen2"))
      ->Unit(benchmark::kMillisecond);
  for (const char* vocab : {"qwen2", "llama-spm"}) {
    benchmark::RegisterBenchmark((std::string("BM_TokenizerLoad/") + vocab).c_str(),
                                 BM_TokenizerLoad, std::string(vocab))
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace autarky::bench
