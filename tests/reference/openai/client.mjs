// The official OpenAI Node client against `autarky serve` (run by tests/e2e/server_openai.sh).
//   node client.mjs basic URL       chat/completions/models, streamed == whole, errors as the
//                                   client's typed exceptions, 8 concurrent streams each equal
//                                   to the same request alone and batched
//   node client.mjs reasoning URL   a model whose template opens <think>: reasoning_content
//                                   apart from content, streamed and not, the thinking budget;
//                                   aborting a stream cancels it on the server
import OpenAI from 'openai';

const [mode, url] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
let failures = 0;
function check(ok, what, detail) {
  if (!ok) {
    failures++;
    console.log(`FAIL: ${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail).slice(0, 600)}`);
  }
}
const messages = (text) => [{ role: 'user', content: text }];

async function metrics() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name) => {
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return line === undefined ? NaN : Number(line.slice(name.length + 1));
  };
  return { text, value };
}

// Collects a streamed chat completion: content, reasoning, finish reason, usage, chunk count.
async function collect(stream) {
  const out = { content: '', reasoning: '', finish: null, usage: null, chunks: 0, ids: new Set() };
  for await (const chunk of stream) {
    out.chunks++;
    out.ids.add(chunk.id);
    check(chunk.object === 'chat.completion.chunk', 'chunk object', chunk);
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      out.content += choice.delta.content ?? '';
      out.reasoning += choice.delta.reasoning_content ?? '';
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
  }
  return out;
}

async function expectError(promise, status, param, what) {
  try {
    await promise;
    check(false, `${what}: no error`);
  } catch (e) {
    check(e instanceof OpenAI.APIError, `${what}: an APIError`, String(e));
    check(e.status === status, `${what}: status ${status}`, { status: e.status, error: e.error });
    if (param !== undefined) check(e.param === param, `${what}: param ${param}`, e.error);
  }
}

async function basic() {
  const models = await client.models.list();
  const model = models.data[0].id;
  check(models.data.length === 1 && typeof model === 'string', 'models.list', models.data);

  const request = { model, messages: messages('Once upon a time'), max_tokens: 24, seed: 11, temperature: 0.7 };
  const whole = await client.chat.completions.create(request);
  check(whole.object === 'chat.completion' && whole.id.startsWith('chatcmpl-'), 'completion object', whole);
  check(whole.choices.length === 1 && whole.choices[0].message.role === 'assistant', 'choice', whole);
  check(['stop', 'length'].includes(whole.choices[0].finish_reason), 'finish_reason', whole);
  check(whole.usage.total_tokens === whole.usage.prompt_tokens + whole.usage.completion_tokens, 'usage', whole.usage);

  const streamed = await collect(await client.chat.completions.create({
    ...request, stream: true, stream_options: { include_usage: true } }));
  check(streamed.content === whole.choices[0].message.content, 'streamed == whole',
    { streamed: streamed.content, whole: whole.choices[0].message.content });
  check(streamed.finish === whole.choices[0].finish_reason, 'streamed finish_reason', streamed.finish);
  check(streamed.usage?.completion_tokens === whole.usage.completion_tokens, 'stream usage', streamed.usage);
  check(streamed.ids.size === 1, 'one id per stream', [...streamed.ids]);

  const completion = await client.completions.create({ model, prompt: 'The little dog', max_tokens: 8, seed: 2 });
  check(completion.object === 'text_completion' && typeof completion.choices[0].text === 'string', 'completions', completion);

  await expectError(client.chat.completions.create({ model, messages: messages('x'), temperature: 5 }), 400, 'temperature', 'temperature 5');
  await expectError(client.chat.completions.create({ model, messages: messages('x'), n: 2 }), 400, 'n', 'n = 2');
  await expectError(client.chat.completions.create({ model, messages: [] }), 400, 'messages', 'no messages');
  await expectError(client.chat.completions.create({ model, messages: messages('x'), response_format: { type: 'json_object' } }), 400, 'response_format', 'json_object');
  await expectError(client.chat.completions.create({ model, messages: messages('x'), max_tokens: -1 }), 400, 'max_tokens', 'max_tokens -1');

  // 8 concurrent streams, each with its own seed and length, against each run alone.
  const before = (await metrics()).value('autarky_forward_passes_total');
  const requests = [...Array(8).keys()].map((i) => ({
    model, messages: messages(`Tell story number ${i}`), max_tokens: 16 + 2 * i, seed: 100 + i,
    temperature: 0.9 }));
  const together = await Promise.all(requests.map(async (r) => collect(
    await client.chat.completions.create({ ...r, stream: true, stream_options: { include_usage: true } }))));
  const m = await metrics();
  check(m.value('autarky_batch_sequences_max') > 1, 'the 8 requests were batched',
    m.value('autarky_batch_sequences_max'));
  // Alone, every generated token costs a forward pass; batched, one pass serves several.
  const tokens = together.reduce((n, t) => n + t.usage.completion_tokens, 0);
  const passes = m.value('autarky_forward_passes_total') - before;
  check(passes < tokens, 'fewer forward passes than generated tokens', { passes, tokens });
  for (let i = 0; i < requests.length; i++) {
    const alone = await client.chat.completions.create(requests[i]);
    check(together[i].content === alone.choices[0].message.content, `request ${i}: batched == alone`,
      { batched: together[i].content, alone: alone.choices[0].message.content });
    check(together[i].finish === alone.choices[0].finish_reason, `request ${i}: finish_reason`);
  }

}

async function reasoning() {
  const model = (await client.models.list()).data[0].id;
  const request = { model, messages: messages('What is 2 + 2?'), max_tokens: 40, seed: 4,
    temperature: 0.8, ignore_eos: true, max_reasoning_tokens: 12 };
  const whole = await client.chat.completions.create(request);
  const message = whole.choices[0].message;
  check(typeof message.reasoning_content === 'string' && message.reasoning_content.length > 0,
    'reasoning_content', message);
  check(!message.content.includes('think>'), 'no tags in content', message.content);
  check(whole.usage.completion_tokens_details.reasoning_tokens === 12, 'reasoning budget', whole.usage);

  const streamed = await collect(await client.chat.completions.create({ ...request, stream: true }));
  check(streamed.reasoning === message.reasoning_content, 'streamed reasoning == whole',
    { streamed: streamed.reasoning, whole: message.reasoning_content });
  check(streamed.content === message.content, 'streamed content == whole',
    { streamed: streamed.content, whole: message.content });

  const raw = await client.chat.completions.create({ ...request, reasoning_format: 'none' });
  const text = raw.choices[0].message.content;
  check(text.includes('</think>') && raw.choices[0].message.reasoning_content === undefined,
    'reasoning_format none keeps the raw text', raw.choices[0].message);

  // Aborting a stream cancels its generation on the server.
  const cancelledBefore = (await metrics()).text.match(/reason="cancelled"} (\d+)/)?.[1] ?? '0';
  const controller = new AbortController();
  const endless = await client.chat.completions.create(
    { model, messages: messages('go on forever'), stream: true, ignore_eos: true },
    { signal: controller.signal });
  try {
    for await (const chunk of endless) {
      const delta = chunk.choices[0]?.delta;
      if (delta?.content || delta?.reasoning_content) controller.abort();
    }
  } catch (e) {
    check(e.name === 'AbortError' || e instanceof OpenAI.APIUserAbortError, 'abort', String(e));
  }
  let cancelled = false;
  for (let i = 0; i < 100 && !cancelled; i++) {
    const now = await metrics();
    cancelled = (now.text.match(/reason="cancelled"} (\d+)/)?.[1] ?? '0') !== cancelledBefore &&
      now.value('autarky_active_requests') === 0;
    if (!cancelled) await new Promise((r) => setTimeout(r, 50));
  }
  check(cancelled, 'an aborted stream is cancelled on the server');
}

try {
  if (mode === 'basic') await basic();
  else if (mode === 'reasoning') await reasoning();
  else throw new Error(`unknown mode ${mode}`);
} catch (e) {
  failures++;
  console.log(`FAIL: ${mode}: ${e?.stack ?? e}`);
}
console.log(failures === 0 ? `openai client (${mode}): all checks passed` : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
