// The web chat (GET /) in headless Chromium through playwright-core (run by
// tests/e2e/server_webui.sh): type a message, see the streamed answer (and, with a reasoning
// model, the reasoning in a collapsible block), Markdown rendered safely, the conversation kept
// across a reload, new chat, and the stop button cancelling a generation on the server.
//   node webui.mjs URL CHROMIUM plain|reasoning
import { chromium } from 'playwright-core';

const [url, executable, mode] = process.argv.slice(2);
let failures = 0;
function check(ok, what, detail) {
  if (!ok) {
    failures++;
    console.log(`FAIL: ${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail).slice(0, 400)}`);
  }
}
async function cancelledCount() {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(/reason="cancelled"} (\d+)/)?.[1] ?? 0);
}

const browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('model').textContent.length > 0);

  const setSetting = async (id, value) => {
    await page.fill(`#${id}`, value);
    await page.dispatchEvent(`#${id}`, 'change');
  };
  await page.click('#settings summary');
  await setSetting('max-tokens', '24');
  if (mode === 'reasoning') await setSetting('thinking-budget', '6');

  // Send with Enter; the answer streams in and the stop button goes away at the end.
  await page.fill('#input', 'Hello there');
  await page.press('#input', 'Enter');
  await page.waitForSelector('#stop', { state: 'visible' }).catch(() => {});
  await page.waitForSelector('#stop', { state: 'hidden', timeout: 60000 });
  const user = await page.textContent('.message.user');
  check(user === 'Hello there', 'the user message is shown', user);
  const answer = await page.textContent('.message.assistant .content');
  check(answer.trim().length > 0, 'the assistant answered', answer);
  if (mode === 'reasoning') {
    const summary = await page.textContent('.message.assistant details.reasoning summary');
    const reasoning = await page.textContent('.message.assistant details.reasoning div');
    check(summary === 'Reasoning', 'the reasoning block is labelled', summary);
    check(reasoning.trim().length > 0, 'the reasoning is shown', reasoning);
    check(!answer.includes('think>'), 'no tags in the answer', answer);
    check(!(await page.getAttribute('.message.assistant details.reasoning', 'open') !== null),
      'the reasoning block is folded once the answer is there');
  }

  // Markdown: formatting rendered, markup from the model escaped.
  const html = await page.evaluate(() =>
    markdown('# T\n**b** *i* `c` <script>alert(1)</script> [x](javascript:alert(1)) [y](https://e.org)\n' +
             '- one\n- two\n\n```js\nlet a = 1 < 2;\n```'));
  for (const want of ['<h1>T</h1>', '<strong>b</strong>', '<em>i</em>', '<code>c</code>',
    '&lt;script&gt;', '<li>one</li>', '<pre><code class="language-js">let a = 1 &lt; 2;</code></pre>',
    '<a href="https://e.org"']) {
    check(html.includes(want), `markdown renders ${want}`, html);
  }
  check(!html.includes('<script>') && !html.includes('href="javascript'), 'markdown is safe', html);

  // The conversation survives a reload (localStorage).
  await page.reload();
  await page.waitForSelector('.message.assistant');
  check(await page.textContent('.message.user') === 'Hello there', 'kept across a reload');
  check((await page.$$('#conversations li')).length === 1, 'one conversation listed');

  // New chat: an empty conversation, the old one still listed.
  await page.click('#new-chat');
  check((await page.$$('.message')).length === 0, 'new chat is empty');
  check((await page.$$('#conversations li')).length === 2, 'two conversations listed');

  // Stop: an unlimited answer is cut off, and the server cancels the generation.
  await page.click('#settings summary').catch(() => {});
  await setSetting('max-tokens', '');
  const before = await cancelledCount();
  await page.fill('#input', 'Go on forever');
  await page.click('#send');
  await page.waitForFunction(() => {
    const m = document.querySelectorAll('.message.assistant');
    return m.length > 0 && m[m.length - 1].textContent.length > 0;
  }, null, { timeout: 60000 });
  await page.click('#stop');
  await page.waitForSelector('#stop', { state: 'hidden', timeout: 10000 });
  let cancelled = false;
  for (let i = 0; i < 100 && !cancelled; i++) {
    cancelled = (await cancelledCount()) > before;
    if (!cancelled) await new Promise((r) => setTimeout(r, 50));
  }
  check(cancelled, 'stop cancels the generation on the server');
  check(errors.length === 0, 'no errors in the page', errors);
} catch (e) {
  failures++;
  console.log(`FAIL: ${e?.stack ?? e}`);
} finally {
  await browser.close();
}
console.log(failures === 0 ? `web chat (${mode}): all checks passed` : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
