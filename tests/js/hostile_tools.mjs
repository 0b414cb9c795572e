// tests/js/hostile_tools.mjs - MCP tools/call with hostile arguments.
//
//   node hostile_tools.mjs MCP_URL TOKEN SEED COUNT OUTSIDE_DIR ALLOWED_TOOLS_CSV
//
// Opens an MCP session, lists the tools, and calls those named in
// ALLOWED_TOOLS_CSV (tools that reach no network beyond loopback) COUNT
// times with arguments made from each tool's inputSchema: mostly the right
// types with hostile contents (paths that climb out of the workspace or
// name OUTSIDE_DIR, huge and odd numbers, control characters, deep
// objects), sometimes the wrong types, missing required fields or extra
// ones. Every answer must be a JSON-RPC response (in JSON or in SSE events,
// each event valid JSON) with the request's id, a result or an error, and
// no HTTP 5xx. Seeded; prints one JSON summary line.
import { seeded } from './seeded.mjs';

const [url, token, seedArg, countArg, outside, allowedCsv] = process.argv.slice(2);
const count = Number(countArg) || 300;
const allowed = new Set(allowedCsv.split(','));

const { rnd, pick, int } = seeded(seedArg);

const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer ' + token };
let sid = null;

// One JSON-RPC call: { status, messages: [parsed JSON-RPC objects], bad: reason or null }.
async function rpc(body, timeoutMs = 20000) {
  const h = { ...base, 'mcp-protocol-version': '2025-11-25' };
  if (sid) h['mcp-session-id'] = sid;
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const r = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body), signal: ac.signal });
    const s = r.headers.get('mcp-session-id');
    if (s && !sid) sid = s;
    const buf = Buffer.from(await r.arrayBuffer());
    let text;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(buf); } catch { return { status: r.status, messages: [], bad: 'body is not UTF-8' }; }
    const ct = r.headers.get('content-type') || '';
    const messages = [];
    if (ct.startsWith('text/event-stream')) {
      for (const ev of text.split(/\n\n/)) {
        const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        if (!data) continue;
        try { messages.push(JSON.parse(data)); } catch { return { status: r.status, messages, bad: 'SSE event is not JSON: ' + data.slice(0, 100) }; }
      }
    } else if (text.length > 0) {
      try { messages.push(JSON.parse(text)); } catch { return { status: r.status, messages, bad: 'body is not JSON: ' + text.slice(0, 100) }; }
    }
    return { status: r.status, messages, bad: null };
  } catch (e) {
    return { status: 0, messages: [], bad: 'no answer: ' + e.name };
  } finally {
    clearTimeout(t);
  }
}

const hostileStrings = () => [
  '', 'a', 'notes.txt', 'dir/sub/file.md', '.', '..', '../', '../x', '../../x', 'a/../../x', './././x',
  '../hostile-outside/planted', '../../hostile-outside/planted', outside + '/planted', outside, '/etc/passwd', '/proc/self/environ',
  'x'.repeat(5000), 'é/ü/文件.txt', 'a\u0000b', '\u202e', '*', '**/*', '[', '(?', '.*'.repeat(50) + '!', '\\', 'C:\\x',
  '%2e%2e/x', 'a\nb', '\t', "'; DROP TABLE memories; --", '${HOME}', '$(id)', '`id`',
];
const hostileNumbers = [0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 0.5, -0.0, 100000000];

function anyValue(depth = 0) {
  switch (int(depth > 2 ? 5 : 7)) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return pick(hostileNumbers);
    case 3: return pick(hostileStrings());
    case 4: return 'z'.repeat(int(50));
    case 5: return Array.from({ length: int(5) }, () => anyValue(depth + 1));
    default: { const o = {}; for (let i = int(4); i > 0; i--) o[pick(['a', 'path', 'id', '', '__proto__', 'constructor'])] = anyValue(depth + 1); return o; }
  }
}

function fromSchema(s, depth = 0) {
  if (!s || typeof s !== 'object' || rnd() < 0.12) return anyValue(depth);
  if (Array.isArray(s.enum) && rnd() < 0.7) return pick(s.enum);
  const type = Array.isArray(s.type) ? pick(s.type) : s.type;
  switch (type) {
    case 'string': return rnd() < 0.6 ? pick(hostileStrings()) : 'v' + int(1000);
    case 'integer': return rnd() < 0.6 ? pick(hostileNumbers.filter(Number.isInteger)) : int(20);
    case 'number': return pick(hostileNumbers);
    case 'boolean': return rnd() < 0.5;
    case 'array': return depth > 3 ? [] : Array.from({ length: int(rnd() < 0.1 ? 200 : 4) }, () => fromSchema(s.items, depth + 1));
    case 'object': {
      const o = {};
      const props = s.properties || {};
      const req = new Set(s.required || []);
      for (const [k, v] of Object.entries(props)) if (req.has(k) ? rnd() < 0.95 : rnd() < 0.5) o[k] = fromSchema(v, depth + 1);
      if (rnd() < 0.1) o['extra' + int(9)] = anyValue(depth + 1);
      return o;
    }
    default: return anyValue(depth);
  }
}

const failures = [];
const outcome = { result: 0, isError: 0, rpcError: 0 };
function fail(what, detail) { if (failures.length < 20) failures.push({ what, detail }); }

const init = await rpc({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'hostile', version: '1' } } });
if (init.bad || init.status !== 200 || !sid) {
  console.log(JSON.stringify({ count: 0, failures: [{ what: 'initialize', detail: init }], outcome, tools: 0 }));
  process.exit(0);
}
await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' });
const tools = [];
for (let cursor, page = 0; page < 50; page++) {
  const list = await rpc({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: cursor ? { cursor } : {} });
  const r = (list.messages[0] || {}).result || {};
  tools.push(...(r.tools || []));
  if (!r.nextCursor) break;
  cursor = r.nextCursor;
}
const usable = tools.filter((t) => allowed.has(t.name));

let next = 0, id = 100;
async function worker() {
  for (;;) {
    if (next++ >= count) return;
    const tool = pick(usable);
    const args = rnd() < 0.05 ? anyValue() : fromSchema(tool.inputSchema || { type: 'object' });
    const myId = id++;
    const res = await rpc({ jsonrpc: '2.0', id: myId, method: 'tools/call', params: { name: tool.name, arguments: args } });
    const detail = { tool: tool.name, args: JSON.stringify(args).slice(0, 300), status: res.status };
    if (res.bad) { fail(res.bad, detail); continue; }
    if (res.status >= 500) { fail('HTTP ' + res.status, detail); continue; }
    let final = res.messages.find((m) => m && m.id === myId && ('result' in m || 'error' in m));
    // jansson refuses \u0000 in strings (the server does not take NUL
    // bytes): such a request is a parse error, whose id is null.
    if (!final && JSON.stringify(args).includes('\\u0000'))
      final = res.messages.find((m) => m && m.id === null && m.error && m.error.code === -32700);
    if (!final) { fail('no JSON-RPC response with the id', { ...detail, got: JSON.stringify(res.messages).slice(0, 200) }); continue; }
    if (final.error) {
      if (typeof final.error.code !== 'number' || typeof final.error.message !== 'string') fail('malformed JSON-RPC error', { ...detail, error: final.error });
      else if (final.error.code === -32603) fail('internal error', { ...detail, error: final.error });
      else outcome.rpcError++;
    } else if (final.result && final.result.isError) outcome.isError++;
    else outcome.result++;
  }
}
await Promise.all([worker(), worker(), worker()]);
console.log(JSON.stringify({ count, tools: usable.length, unlisted: [...allowed].filter((n) => !usable.some((t) => t.name === n)), outcome, failures }));
