// The web chat page (see web_ui.h). Plain HTML, CSS and JavaScript, no libraries: it talks to
// /v1/chat/completions with streaming, shows <think> reasoning (reasoning_content) in a
// collapsible block, renders a safe subset of Markdown (everything is escaped first; links only
// http(s)), and keeps conversations and settings in the browser's localStorage.
#include "server/web_ui.h"

namespace autarky::server {

namespace {

constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autarky</title>
<link rel="icon" href="data:,">
<style>
:root { --bg: #fafaf8; --fg: #1d1d1f; --muted: #6b6b70; --line: #dedede; --accent: #2f6f4f;
        --user: #e8f0ea; --code: #f1f1ee; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #17181a; --fg: #e6e6e6; --muted: #9a9aa0; --line: #33353a; --accent: #7fc49d;
          --user: #23302a; --code: #222428; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; background: var(--bg); color: var(--fg);
       display: flex; height: 100vh; }
aside { width: 240px; border-right: 1px solid var(--line); display: flex; flex-direction: column;
        padding: 10px; gap: 8px; }
aside ul { list-style: none; margin: 0; padding: 0; overflow-y: auto; flex: 1; }
aside li { display: flex; align-items: center; border-radius: 6px; }
aside li.active { background: var(--user); }
aside li button.open { flex: 1; text-align: left; background: none; border: 0; color: var(--fg);
                       padding: 6px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
                       cursor: pointer; }
aside li button.delete { background: none; border: 0; color: var(--muted); cursor: pointer; }
main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
header { padding: 8px 16px; border-bottom: 1px solid var(--line); color: var(--muted);
         display: flex; gap: 12px; align-items: center; }
#messages { flex: 1; overflow-y: auto; padding: 16px; }
.message { max-width: 820px; margin: 0 auto 14px; padding: 10px 14px; border-radius: 10px; }
.message.user { background: var(--user); white-space: pre-wrap; }
.message.assistant { border: 1px solid var(--line); }
.message.error { border: 1px solid #c44; color: #c44; }
details.reasoning { color: var(--muted); margin-bottom: 8px; }
details.reasoning summary { cursor: pointer; font-size: 13px; }
details.reasoning div { white-space: pre-wrap; font-size: 13px; border-left: 3px solid var(--line);
                        padding-left: 8px; margin-top: 4px; }
pre { background: var(--code); padding: 10px; border-radius: 6px; overflow-x: auto; }
code { background: var(--code); padding: 1px 4px; border-radius: 4px;
       font: 13px ui-monospace, monospace; }
pre code { padding: 0; background: none; }
form { display: flex; gap: 8px; padding: 12px 16px; border-top: 1px solid var(--line); }
textarea { flex: 1; resize: none; height: 64px; font: inherit; padding: 8px; border-radius: 8px;
           border: 1px solid var(--line); background: var(--bg); color: var(--fg); }
button.primary { background: var(--accent); color: white; border: 0; border-radius: 8px;
                 padding: 0 18px; cursor: pointer; font: inherit; }
#settings { font-size: 13px; }
#settings label { display: block; margin: 4px 0; }
#settings input { width: 100%; }
</style>
</head>
<body>
<aside>
  <button id="new-chat" class="primary" type="button" style="padding:8px">New chat</button>
  <ul id="conversations"></ul>
  <details id="settings">
    <summary>Settings</summary>
    <label>API key <input id="api-key" type="password" autocomplete="off"></label>
    <label>System prompt <input id="system-prompt"></label>
    <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.1"></label>
    <label>Max tokens <input id="max-tokens" type="number" min="1"></label>
    <label>Thinking budget (tokens) <input id="thinking-budget" type="number" min="0"></label>
  </details>
</aside>
<main>
  <header><strong>autarky</strong><span id="model"></span><span id="status"></span></header>
  <div id="messages"></div>
  <form id="composer">
    <textarea id="input" placeholder="Message (Enter to send, Shift+Enter for a new line)"></textarea>
    <button id="send" class="primary" type="submit">Send</button>
    <button id="stop" class="primary" type="button" hidden>Stop</button>
  </form>
</main>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const store = {
  load(key, fallback) {
    try { const v = localStorage.getItem('autarky.' + key); return v === null ? fallback : JSON.parse(v); }
    catch { return fallback; }
  },
  save(key, value) { localStorage.setItem('autarky.' + key, JSON.stringify(value)); },
};
let conversations = store.load('conversations', []);
let current = store.load('current', null);
let controller = null;
const settingIds = ['api-key', 'system-prompt', 'temperature', 'max-tokens', 'thinking-budget'];
const settings = store.load('settings', {});
for (const id of settingIds) {
  $(id).value = settings[id] ?? '';
  $(id).addEventListener('change', () => { settings[id] = $(id).value; store.save('settings', settings); });
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
// Inline Markdown on escaped text: code, bold, italics, http(s) links.
function inline(s) {
  return s.replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>')
    .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>');
}
// A safe Markdown subset: fenced code, headings, lists, quotes, paragraphs. The text is escaped
// before any tag is added, so model output can never inject markup.
function markdown(text) {
  const out = [];
  const lines = escapeHtml(text).split('\n');
  let list = null, para = [];
  const flushPara = () => { if (para.length) { out.push('<p>' + inline(para.join('<br>')) + '</p>'); para = []; } };
  const flushList = () => { if (list) { out.push('</' + list + '>'); list = null; } };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^```\s*([\w+-]*)/);
    if (fence) {
      flushPara(); flushList();
      const code = [];
      while (++i < lines.length && !lines[i].startsWith('```')) code.push(lines[i]);
      out.push('<pre><code class="language-' + fence[1] + '">' + code.join('\n') + '</code></pre>');
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)/);
    const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)/);
    if (heading) {
      flushPara(); flushList();
      out.push('<h' + heading[1].length + '>' + inline(heading[2]) + '</h' + heading[1].length + '>');
    } else if (item) {
      flushPara();
      const kind = /\d/.test(item[1]) ? 'ol' : 'ul';
      if (list !== kind) { flushList(); out.push('<' + kind + '>'); list = kind; }
      out.push('<li>' + inline(item[2]) + '</li>');
    } else if (line.startsWith('&gt; ')) {
      flushPara(); flushList();
      out.push('<blockquote>' + inline(line.slice(5)) + '</blockquote>');
    } else if (line.trim() === '') {
      flushPara(); flushList();
    } else {
      flushList();
      para.push(line);
    }
  }
  flushPara(); flushList();
  return out.join('');
}

function conversation() { return conversations.find((c) => c.id === current); }
function persist() { store.save('conversations', conversations); store.save('current', current); }

function renderList() {
  const ul = $('conversations');
  ul.replaceChildren();
  for (const c of conversations) {
    const li = document.createElement('li');
    if (c.id === current) li.className = 'active';
    const open = document.createElement('button');
    open.className = 'open';
    open.textContent = c.title || 'New chat';
    open.onclick = () => { if (!controller) { current = c.id; persist(); render(); } };
    const del = document.createElement('button');
    del.className = 'delete';
    del.textContent = '×';
    del.title = 'Delete';
    del.onclick = () => {
      if (controller) return;
      conversations = conversations.filter((x) => x.id !== c.id);
      if (current === c.id) current = conversations[0]?.id ?? null;
      persist(); render();
    };
    li.append(open, del);
    ul.append(li);
  }
}

function messageElement(m) {
  const div = document.createElement('div');
  div.className = 'message ' + m.role;
  if (m.role === 'user' || m.role === 'error') {
    div.textContent = m.content;
    return div;
  }
  if (m.reasoning) {
    const details = document.createElement('details');
    details.className = 'reasoning';
    details.open = !!m.streaming && !m.content;
    const summary = document.createElement('summary');
    summary.textContent = m.streaming && !m.content ? 'Thinking…' : 'Reasoning';
    const body = document.createElement('div');
    body.textContent = m.reasoning;
    details.append(summary, body);
    div.append(details);
  }
  const content = document.createElement('div');
  content.className = 'content';
  content.innerHTML = markdown(m.content || '');
  div.append(content);
  return div;
}

function render() {
  renderList();
  const box = $('messages');
  box.replaceChildren();
  for (const m of conversation()?.messages ?? []) box.append(messageElement(m));
  box.scrollTop = box.scrollHeight;
}

function newChat() {
  if (controller) return;
  const c = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: '', messages: [] };
  conversations.unshift(c);
  current = c.id;
  persist(); render();
  $('input').focus();
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (settings['api-key']) h.Authorization = 'Bearer ' + settings['api-key'];
  return h;
}

async function send(text) {
  if (!conversation()) newChat();
  const c = conversation();
  c.messages.push({ role: 'user', content: text });
  if (!c.title) c.title = text.slice(0, 40);
  const reply = { role: 'assistant', content: '', reasoning: '', streaming: true };
  c.messages.push(reply);
  persist(); render();
  const body = { messages: [], stream: true };
  if (settings['system-prompt']) body.messages.push({ role: 'system', content: settings['system-prompt'] });
  for (const m of c.messages) {
    if ((m.role === 'user' || m.role === 'assistant') && m !== reply) body.messages.push({ role: m.role, content: m.content });
  }
  if (settings.temperature !== undefined && settings.temperature !== '') body.temperature = Number(settings.temperature);
  if (settings['max-tokens']) body.max_tokens = Number(settings['max-tokens']);
  if (settings['thinking-budget'] !== undefined && settings['thinking-budget'] !== '') {
    body.max_reasoning_tokens = Number(settings['thinking-budget']);
  }
  controller = new AbortController();
  $('send').hidden = true; $('stop').hidden = false; $('status').textContent = 'generating…';
  const box = $('messages');
  let element = box.lastElementChild;
  const update = () => {
    const fresh = messageElement(reply);
    const old = element.querySelector('details.reasoning');
    const details = fresh.querySelector('details.reasoning');
    if (old && details && !(reply.streaming && !reply.content)) details.open = old.open;
    element.replaceWith(fresh);
    element = fresh;
    box.scrollTop = box.scrollHeight;
  };
  try {
    const response = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new Error(error?.error?.message ?? response.statusText);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
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
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices?.[0]?.delta ?? {};
        if (delta.reasoning_content) reply.reasoning += delta.reasoning_content;
        if (delta.content) reply.content += delta.content;
        update();
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') c.messages.push({ role: 'error', content: String(e.message || e) });
  } finally {
    reply.streaming = false;
    controller = null;
    $('send').hidden = false; $('stop').hidden = true; $('status').textContent = '';
    persist(); render();
  }
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text || controller) return;
  $('input').value = '';
  send(text);
});
$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); }
});
$('stop').onclick = () => controller?.abort();
$('new-chat').onclick = newChat;
fetch('/v1/models', { headers: headers() }).then((r) => r.json())
  .then((j) => { $('model').textContent = j.data?.[0]?.id ?? ''; }).catch(() => {});
render();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view WebUiHtml() { return kPage; }

}  // namespace autarky::server
