// Load test of `autarky serve` (the numbers of docs/PERFORMANCE.md's server section): for each
// concurrency level, that many streamed completions start at once, each generating exactly
// --tokens tokens (ignore_eos) after a prompt of about --prompt words; reports the aggregate
// generation rate, the per-stream decode rate and the time to first token.
//   node load.mjs URL [--streams 1,4,8] [--tokens 64] [--prompt 100] [--rounds 1] [--json]
const args = process.argv.slice(2);
const url = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const levels = option('streams', '1,4,8').split(',').map(Number);
const tokens = Number(option('tokens', '64'));
const promptWords = Number(option('prompt', '100'));
const rounds = Number(option('rounds', '1'));
const asJson = args.includes('--json');
const words = ['the', 'little', 'model', 'runs', 'on', 'a', 'plain', 'computer', 'and', 'answers',
  'every', 'question', 'with', 'care', 'about', 'numbers', 'stories', 'code', 'and', 'time'];

// A prompt that shares no prefix with the others (the prefix cache must not help).
function prompt(tag) {
  let text = `Request ${tag}:`;
  for (let i = 0; i < promptWords; i++) text += ' ' + words[(i * 7 + tag.length * 3 + i * i) % words.length];
  return text;
}

async function metrics() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name) => Number(text.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1]);
  return { passes: value('autarky_forward_passes_total'), sequences: value('autarky_forward_sequences_total') };
}

// One streamed completion; resolves to its timings (ms since `t0`) and token count.
async function stream(tag, t0) {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: prompt(tag), max_tokens: tokens, ignore_eos: true, stream: true,
      stream_options: { include_usage: true }, temperature: 0.8, seed: tag.length * 31 + 7 }),
  });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '', first = null, last = null, usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices?.[0]?.text) {
        const now = performance.now() - t0;
        if (first === null) first = now;
        last = now;
      }
    }
  }
  return { first, last, end: performance.now() - t0, tokens: usage?.completion_tokens ?? 0,
    prompt_tokens: usage?.prompt_tokens ?? 0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
// Warm-up: page the weights in.
await stream('warm-up', performance.now());
for (const n of levels) {
  for (let round = 0; round < rounds; round++) {
    const before = await metrics();
    const t0 = performance.now();
    const runs = await Promise.all([...Array(n).keys()].map((i) => stream(`${n}-${round}-${i}-${'x'.repeat(i)}`, t0)));
    const wall = Math.max(...runs.map((r) => r.end)) / 1000;
    const after = await metrics();
    const generated = runs.reduce((s, r) => s + r.tokens, 0);
    const decode = runs.map((r) => (r.tokens - 1) / Math.max((r.last - r.first) / 1000, 1e-9));
    results.push({
      streams: n,
      round,
      prompt_tokens: median(runs.map((r) => r.prompt_tokens)),
      generated,
      wall_s: wall,
      aggregate_tokens_per_s: generated / wall,
      decode_tokens_per_s_per_stream: median(decode),
      ttft_ms_median: median(runs.map((r) => r.first)),
      ttft_ms_max: Math.max(...runs.map((r) => r.first)),
      mean_sequences_per_pass: (after.sequences - before.sequences) / (after.passes - before.passes),
    });
  }
}
if (asJson) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log('streams  prompt  generated   wall s  aggregate tok/s  per-stream tok/s  TTFT median ms  TTFT max ms  seqs/pass');
  for (const r of results) {
    console.log(`${String(r.streams).padStart(7)}  ${String(r.prompt_tokens).padStart(6)}  ${String(r.generated).padStart(9)}` +
      `  ${r.wall_s.toFixed(2).padStart(7)}  ${r.aggregate_tokens_per_s.toFixed(2).padStart(15)}` +
      `  ${r.decode_tokens_per_s_per_stream.toFixed(2).padStart(16)}  ${r.ttft_ms_median.toFixed(0).padStart(14)}` +
      `  ${r.ttft_ms_max.toFixed(0).padStart(11)}  ${r.mean_sequences_per_pass.toFixed(2).padStart(9)}`);
  }
}
