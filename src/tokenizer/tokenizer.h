// Tokenizer: text <-> token ids for a model's vocabulary, matching the model's own Hugging Face
// tokenizer: SentencePiece-style ("llama") and byte-level BPE ("gpt2") vocabularies from GGUF.
//
//   ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::FromGguf(file));
//   std::vector<int32_t> ids = tokenizer->Encode("Once upon a time");  // [BOS, ...]
//   std::string text = tokenizer->Decode(ids, /*skip_special=*/true);
//
// Encoding: invalid UTF-8 in the input is first replaced by U+FFFD (one per maximal ill-formed
// subpart), which is what a Hugging Face tokenizer sees after Python/JavaScript decode the bytes.
// Then special/added tokens written in the text are cut out (leftmost, longest first): added
// tokens that are not special (user-defined, e.g. <think>) always, control tokens (<|im_end|>)
// only with parse_special. The rest is encoded by the vocabulary's model:
//   SPM: a space is prepended to the text and after each special token (add_space_prefix),
//        spaces become U+2581, pieces merge by score, unknown characters fall back to <0xNN>.
//   BPE: normalization (NFC for Qwen2), the regex pre-tokenizer of tokenizer.ggml.pre, then
//        byte-level BPE by merge rank within each piece.
//
// Decoding (TokenBytes / Decode): normal byte-level tokens become their bytes (one whose text is
// not byte-level is its text, as in HF's ByteLevel decoder); SPM pieces turn U+2581 into spaces
// and <0xNN> into the byte; control, unknown and user-defined tokens are their text verbatim
// (as llama.cpp; HF would byte-decode an added token such as DeepSeek Coder's "ü"); unused and
// undefined tokens are empty. Ids outside [0, n_vocab)
// decode to nothing. Decode concatenates the tokens' bytes without clean-up (so
// Decode(a) + Decode(b) == Decode(a + b) except for the rule below) and may return invalid UTF-8
// when it ends inside a character: stream through Utf8Stream for display.
//
// The SPM dummy-prefix rule: when ids start with BOS, one leading space of the token after it is
// dropped (the space the encoder added), so Decode(Encode("Hello")) == "Hello" as in HF's
// decode. A sequence that does not start with BOS is a continuation and decodes verbatim: the
// generated tokens after a prompt decode to exactly the text llama.cpp prints for them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/utf8_stream.h"
#include "tokenizer/vocab.h"
#include "util/status.h"

namespace autarky {

class GgufFile;
class SpmModel;
class BpeModel;
class PreTokenizer;
class SpecialTokenSplitter;

struct EncodeOptions {
  bool add_special = true;     // BOS/EOS per the vocabulary's add_bos_token/add_eos_token
  bool parse_special = false;  // recognise control tokens written in the text
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);
  // From already-read vocabulary data (tests; the tokenizer.json reader later).
  static Result<std::unique_ptr<Tokenizer>> FromVocab(VocabData vocab);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Thread-safe (const, no shared mutable state).
  std::vector<int32_t> Encode(std::string_view text, const EncodeOptions& options = {}) const;

  // The bytes this token contributes when decoding (see the file comment); empty for an
  // invalid id.
  std::string TokenBytes(int32_t id) const;
  std::string Decode(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  TokenizerModel model() const { return model_; }
  const std::string& pre() const { return pre_; }
  int32_t bos_id() const { return bos_id_; }  // -1 when absent
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool IsValid(int32_t id) const { return id >= 0 && id < n_vocab(); }
  // eos, eot, eom and the other end-of-turn tokens (llama.cpp's EOG set); false if invalid.
  bool IsEndOfGeneration(int32_t id) const;
  // Control or unknown token: what Decode(skip_special = true) leaves out.
  bool IsSpecial(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // The token as stored in the vocabulary ("▁the", "Ġthe", "<|im_end|>"); empty if invalid.
  std::string_view TokenText(int32_t id) const;
  // The id of the token stored with exactly this text, or -1.
  int32_t FindToken(std::string_view text) const;

 private:
  Tokenizer();
  void EncodeText(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const;

  TokenizerModel model_ = TokenizerModel::kSpm;
  std::string pre_;
  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  std::vector<std::string> pieces_;  // TokenBytes of every id
  std::vector<bool> eog_;
  Normalization normalization_ = Normalization::kNone;
  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, unk_id_ = -1, pad_id_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;

  std::unique_ptr<SpmModel> spm_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<SpecialTokenSplitter> specials_;
  std::unique_ptr<std::unordered_map<std::string_view, int32_t>> text_ids_;  // for FindToken
};

}  // namespace autarky
