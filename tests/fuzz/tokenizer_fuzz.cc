// libFuzzer target for the tokenizers: any bytes as text, through several vocabularies (the
// ../shared ones when present, two small built-in ones always). Checks that encoding never
// crashes, yields only valid ids, and that decoding gives the (sanitized) text back where the
// vocabulary guarantees it; that Utf8Stream reassembles the decoded bytes at any split.
//
// The first input byte picks the vocabulary and the options; the rest is the text.
// env: AUTARKY_SHARED_DIR (default ../shared, relative to the working directory).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using autarky::Tokenizer;

struct Vocab {
  std::string name;
  std::unique_ptr<Tokenizer> tokenizer;
  bool round_trip;  // Decode(Encode(s)) == SanitizeUtf8(s) when no added token was matched
};

std::vector<Vocab>& Vocabs() {
  static std::vector<Vocab> vocabs;
  return vocabs;
}

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "tokenizer_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

std::string ByteLevel(std::string_view raw) {
  std::string s;
  for (const char c : raw)
    autarky::AppendUtf8(s, autarky::ByteLevelCodepoint(static_cast<uint8_t>(c)));
  return s;
}

// A byte-level BPE vocabulary of all bytes and a few merges, and an SPM one with byte fallback.
void AddBuiltInVocabs() {
  autarky::VocabData bpe;
  bpe.model = autarky::TokenizerModel::kBpe;
  for (int b = 0; b < 256; ++b)
    bpe.tokens.push_back(ByteLevel(std::string(1, static_cast<char>(b))));
  for (const char* raw : {" t", "he", " the", "in", "ing", "\xE4\xBD", "\xE4\xBD\xA0"}) {
    bpe.tokens.push_back(ByteLevel(raw));
  }
  bpe.types.assign(bpe.tokens.size(), autarky::TokenType::kNormal);
  bpe.merges = {ByteLevel(" ") + " t",
                "h e",
                ByteLevel(" t") + " he",
                "i n",
                "in g",
                ByteLevel("\xE4") + " " + ByteLevel("\xBD"),
                ByteLevel("\xE4\xBD") + " " + ByteLevel("\xA0")};
  bpe.tokens.push_back("<|end|>");
  bpe.types.push_back(autarky::TokenType::kControl);
  bpe.tokens.push_back("<t>");
  bpe.types.push_back(autarky::TokenType::kUserDefined);
  bpe.added_token_flags.push_back({static_cast<int32_t>(bpe.tokens.size() - 1), true, true});
  bpe.split_regexes = {
      R"((?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  auto bpe_tokenizer = Tokenizer::FromVocab(std::move(bpe));
  Check(bpe_tokenizer.ok(), "built-in BPE vocabulary loads");
  Vocabs().push_back({"builtin-bpe", std::move(bpe_tokenizer).value(), true});

  autarky::VocabData spm;
  spm.model = autarky::TokenizerModel::kSpm;
  spm.tokens = {"<unk>", "<s>", "</s>"};
  spm.types = {autarky::TokenType::kUnknown, autarky::TokenType::kControl,
               autarky::TokenType::kControl};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    spm.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    spm.types.push_back(autarky::TokenType::kByte);
  }
  spm.scores.assign(spm.tokens.size(), 0.0f);
  float score = -1;
  for (const char* piece : {"\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81", "a", "b", "ab",
                            "\xE2\x96\x81"
                            "a",
                            "\xE2\x96\x81"
                            "ab",
                            "\xE4\xBD\xA0"}) {
    spm.tokens.push_back(piece);
    spm.types.push_back(autarky::TokenType::kNormal);
    spm.scores.push_back(score);
    score -= 0.5f;
  }
  spm.bos_id = 1;
  spm.eos_id = 2;
  spm.unk_id = 0;
  spm.add_bos = true;
  spm.add_space_prefix = true;
  auto spm_tokenizer = Tokenizer::FromVocab(std::move(spm));
  Check(spm_tokenizer.ok(), "built-in SPM vocabulary loads");
  Vocabs().push_back({"builtin-spm", std::move(spm_tokenizer).value(), true});
}

void AddSharedVocab(const std::filesystem::path& path, bool round_trip) {
  autarky::Result<autarky::GgufFile> file = autarky::GgufFile::Open(path.string());
  if (!file.ok()) return;
  auto tokenizer = Tokenizer::FromGguf(*file);
  Check(tokenizer.ok(), "a shared vocabulary loads");
  Vocabs().push_back({path.filename().string(), std::move(tokenizer).value(), round_trip});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  AddBuiltInVocabs();
  const char* env = std::getenv("AUTARKY_SHARED_DIR");
  const std::filesystem::path shared = env != nullptr && *env != '\0' ? env : "../shared";
  // Qwen2 normalizes (NFC), so its round trip gives NFC(s) rather than s.
  for (const auto& [name, round_trip] :
       std::vector<std::pair<const char*, bool>>{{"llama-spm", true},
                                                 {"phi-3", true},
                                                 {"gpt-2", true},
                                                 {"deepseek-coder", true},
                                                 {"starcoder", true},
                                                 {"qwen2", false},
                                                 {"deepseek-v3", true},
                                                 {"llama3", true}}) {
    AddSharedVocab(shared / "golden" / "tokenizer" / (std::string(name) + ".gguf"), round_trip);
  }
  AddSharedVocab(shared / "models" / "aidreams260K.gguf", true);
  std::fprintf(stderr, "tokenizer_fuzz: %zu vocabularies\n", Vocabs().size());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const Vocab& vocab = Vocabs()[(selector >> 2) % Vocabs().size()];
  const Tokenizer& t = *vocab.tokenizer;
  const autarky::EncodeOptions options{.add_special = (selector & 1) != 0,
                                       .parse_special = (selector & 2) != 0};
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<int32_t> ids = t.Encode(text, options);
  bool added_token = false;
  for (const int32_t id : ids) {
    Check(t.IsValid(id), "every id is in the vocabulary");
    const autarky::TokenType type = t.token_type(id);
    added_token = added_token || type == autarky::TokenType::kControl ||
                  type == autarky::TokenType::kUserDefined;
  }
  const std::string decoded = t.Decode(ids, /*skip_special=*/false);

  // Without BOS, an SPM text decodes with its dummy-prefix space; with BOS it is dropped.
  // SPM writes spaces as U+2581, so a U+2581 in the text decodes as a space.
  const bool spm = t.model() == autarky::TokenizerModel::kSpm;
  const bool has_spm_space = text.find("\xE2\x96\x81") != std::string_view::npos;
  if (vocab.round_trip && !added_token && !options.add_special && !(spm && has_spm_space)) {
    std::vector<int32_t> with_bos = ids;
    if (spm && t.bos_id() >= 0) {
      with_bos.insert(with_bos.begin(), t.bos_id());
    }
    Check(t.Decode(with_bos, /*skip_special=*/true) == autarky::SanitizeUtf8(text),
          "Decode(Encode(s)) == SanitizeUtf8(s)");
  }

  // The stream reassembles the tokens' bytes split at token boundaries. (Decode differs from
  // the plain concatenation only by the SPM dummy-prefix space after a leading BOS.)
  autarky::Utf8Stream stream;
  std::string streamed;
  std::string concatenated;
  for (const int32_t id : ids) {
    const std::string bytes = t.TokenBytes(id);
    concatenated += bytes;
    streamed += stream.Push(bytes);
  }
  streamed += stream.Flush();
  Check(streamed == autarky::SanitizeUtf8(concatenated),
        "Utf8Stream output == SanitizeUtf8(token bytes)");
  Check(decoded.size() + 1 >= concatenated.size() && decoded.size() <= concatenated.size(),
        "Decode is the token bytes, at most one dummy-prefix space shorter");
  return 0;
}
