// `autarky tokenize -m MODEL "text"`: prints the token ids and pieces of a text; `--jsonl` reads
// one JSON string a line on stdin and writes one JSON array of ids a line (for scripts and the
// differential tests), `--decode` turns ids back into text.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "io/gguf_reader.h"
#include "io/hf_folder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace autarky::cli {
namespace {

struct TokenizeFlags {
  std::string model;
  std::string text;
  std::string file;
  bool jsonl = false;
  bool no_bos = false;
  bool parse_special = false;
  bool decode = false;
  bool skip_special = false;
  bool ids_only = false;
};

// A piece for display: printable text as is; control bytes, quotes, backslashes and bytes that
// are not valid UTF-8 escaped (a piece may be one byte of a multi-byte character).
std::string EscapePiece(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const Utf8Unit unit = ScanUtf8(s, i);
    if (c >= 0x80 && unit.kind == Utf8Unit::Kind::kValid) {
      out.append(s.substr(i, unit.length));
      i += unit.length;
      continue;
    }
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    ++i;
  }
  return out;
}

std::string IdsJson(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  out += ']';
  return out;
}

// JSON for a decoded text: invalid UTF-8 (a text cut inside a character) becomes U+FFFD.
std::string TextJson(const std::string& text) {
  return nlohmann::json(SanitizeUtf8(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<int32_t>> ParseIds(const std::string& line) {
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return ErrorStatus(std::string("not JSON: ") + e.what());
  }
  if (!value.is_array()) return ErrorStatus("expected a JSON array of token ids");
  std::vector<int32_t> ids;
  for (const auto& item : value) {
    if (!item.is_number_integer()) return ErrorStatus("expected a JSON array of token ids");
    const int64_t id = item.get<int64_t>();
    // Out-of-range ids decode to nothing (Tokenizer::Decode); clamp to keep that meaning.
    ids.push_back(id < 0 || id > INT32_MAX ? -1 : static_cast<int32_t>(id));
  }
  return ids;
}

// --jsonl: one request a line until the end of stdin. A malformed line stops with an error
// naming it (scripts must not silently lose a line).
int RunJsonl(const Tokenizer& tokenizer, const TokenizeFlags& flags) {
  const EncodeOptions options{.add_special = !flags.no_bos, .parse_special = flags.parse_special};
  std::string line;
  std::string out;
  for (int64_t line_number = 1; std::getline(std::cin, line); ++line_number) {
    if (flags.decode) {
      Result<std::vector<int32_t>> ids = ParseIds(line);
      if (!ids.ok()) {
        std::fprintf(stderr, "error: stdin line %lld: %s\n", static_cast<long long>(line_number),
                     ids.status().message().c_str());
        return 1;
      }
      out = TextJson(tokenizer.Decode(*ids, flags.skip_special));
    } else {
      nlohmann::json value;
      try {
        value = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        std::fprintf(stderr, "error: stdin line %lld: not JSON: %s\n",
                     static_cast<long long>(line_number), e.what());
        return 1;
      }
      if (!value.is_string()) {
        std::fprintf(stderr, "error: stdin line %lld: expected a JSON string\n",
                     static_cast<long long>(line_number));
        return 1;
      }
      out = IdsJson(tokenizer.Encode(value.get_ref<const std::string&>(), options));
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);  // a caller may wait for each answer before sending the next line
  }
  return 0;
}

int Run(const TokenizeFlags& flags) {
  // A Hugging Face folder: its tokenizer.json alone.
  Result<GgufFile> file =
      IsHfTokenizerFolder(flags.model) ? LoadHfTokenizer(flags.model) : GgufFile::Open(flags.model);
  if (!file.ok()) {
    std::fprintf(stderr, "error: %s\n", file.status().message().c_str());
    return 1;
  }
  auto tokenizer = Tokenizer::FromGguf(*file);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "error: %s\n", tokenizer.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = **tokenizer;
  if (flags.jsonl) return RunJsonl(tok, flags);

  std::string text = flags.text;
  if (!flags.file.empty()) {
    FILE* f = std::fopen(flags.file.c_str(), "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "error: cannot open %s\n", flags.file.c_str());
      return 1;
    }
    text.clear();
    char buffer[1 << 16];
    for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0;) text.append(buffer, n);
    std::fclose(f);
  }
  if (flags.decode) {
    Result<std::vector<int32_t>> ids = ParseIds(text);
    if (!ids.ok()) {
      std::fprintf(stderr, "error: %s\n", ids.status().message().c_str());
      return 1;
    }
    const std::string decoded = tok.Decode(*ids, flags.skip_special);
    std::fwrite(decoded.data(), 1, decoded.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }
  const std::vector<int32_t> ids =
      tok.Encode(text, {.add_special = !flags.no_bos, .parse_special = flags.parse_special});
  if (flags.ids_only) {
    std::printf("%s\n", IdsJson(ids).c_str());
    return 0;
  }
  for (const int32_t id : ids) {
    std::printf("%7d -> '%s'\n", id, EscapePiece(tok.TokenBytes(id)).c_str());
  }
  std::fprintf(stderr, "%zu tokens\n", ids.size());
  return 0;
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Print the token ids and pieces of a text with a model's tokenizer.\n"
      "Pieces are the bytes each token contributes to the text (escaped when not printable).");
  cmd->add_option("-m,--model", flags->model,
                  "GGUF file (a model or a vocabulary-only file) or a folder with tokenizer.json")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("text", flags->text, "Text to tokenize (with --decode: a JSON array of ids)");
  cmd->add_option("-f,--file", flags->file, "Read the text from this file instead");
  cmd->add_flag("--jsonl", flags->jsonl,
                "Read one JSON string a line on stdin, write one JSON array of ids a line "
                "(with --decode: arrays of ids in, JSON strings out)");
  cmd->add_flag("--no-bos", flags->no_bos, "Do not add BOS/EOS (the vocabulary's add_bos/add_eos)");
  cmd->add_flag("--parse-special", flags->parse_special,
                "Recognise special (control) tokens written in the text, e.g. <|im_end|>");
  cmd->add_flag("--decode", flags->decode, "Decode token ids to text instead");
  cmd->add_flag("--skip-special", flags->skip_special, "With --decode: leave out control tokens");
  cmd->add_flag("--ids", flags->ids_only, "Print only a JSON array of the ids");
  cmd->callback([flags, &exit_code] { exit_code = Run(*flags); });
}

}  // namespace autarky::cli
