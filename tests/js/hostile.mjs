// tests/js/hostile.mjs - hostile requests against every route, over raw
// HTTP/1.1 sockets (so any byte can go into a path, a header or a body).
//
//   node hostile.mjs PORT SEED COUNT ROUTES_JSON TOKEN ADMIN_TOKEN
//
// Each request takes a route of spec/endpoints.yaml and spoils it: path
// parameters and query strings of random bytes, credentials that are
// garbage, bodies that are valid samples with a value swapped for another
// type, bytes flipped, cut short, nested deep, or not JSON at all. The
// answer must be a well-formed HTTP response; a JSON answer must be
// well-formed UTF-8 and parse; no answer may be a 500. Seeded: a failure
// names the seed and request to replay. Prints one JSON summary line.
import net from 'node:net';
import { seeded } from './seeded.mjs';

const [port, seedArg, countArg, routesJson, token, adminToken] = process.argv.slice(2);
const routes = JSON.parse(routesJson);
const count = Number(countArg) || 500;

const { rnd, pick, int } = seeded(seedArg);

function randBytes(n, printable) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = printable ? 0x21 + int(94) : pick([int(256), 0x80 + int(128), 0x25, 0x2f, 0x2e, 0x3f, 0x23, 0xff, 0xc0]);
  return b;
}
// Bytes that may go into a request line or header value: no CR, LF or NUL
// (those end the line or are refused by any parser before us).
function lineSafe(b) {
  for (let i = 0; i < b.length; i++) if (b[i] === 10 || b[i] === 13 || b[i] === 0 || b[i] === 0x20) b[i] = 0x7e;
  return b;
}

const samples = {
  '/v1/auth/register': { email: 'fuzz@example.com', password: 'correct horse battery staple' },
  '/v1/client/register': { email: 'fuzz@example.com', password: 'correct horse battery staple' },
  '/v1/auth/login': { email: 'fuzz@example.com', password: 'wrong' },
  '/v1/client/login': { email: 'fuzz@example.com', password: 'wrong' },
  '/v1/auth/refresh': { refresh_token: 'x'.repeat(40) },
  '/v1/auth/logout': { refresh_token: 'x'.repeat(40) },
  '/v1/client/keys': { name: 'k', expires_in_days: 30 },
  '/v1/admin/users/{id}': { tier: 'pro', disabled: false },
  '/v1/admin/users/{id}/keys': { name: 'k' },
  '/v1/chat/completions': { model: 'auto', messages: [{ role: 'user', content: 'hi' }], stream: false, max_tokens: 5 },
  '/v1/chat': { message: 'hi', model: 'auto' },
  '/v1/client/chat': { message: 'hi', model: 'auto' },
  '/v1/mcp': { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
  '/mcp': { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'memory_search', arguments: { query: 'x' } } },
  '/v1/mcp/call': { name: 'memory_search', arguments: { query: 'x' } },
};

function randomValue(depth = 0) {
  switch (int(depth > 2 ? 6 : 8)) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return pick([0, -1, 1e308, -1e308, 2 ** 63, 1.5, 4294967296, -2147483649]);
    case 3: return pick(['', 'x'.repeat(int(5000)), '\u0000', '\ud800', '../../etc/passwd', "'; DROP TABLE users; --", '\u202e', '%s%n%x', '\ufffd']);
    case 4: return randBytes(int(20), false).toString('latin1');
    case 5: return 'a'.repeat(int(30));
    case 6: return Array.from({ length: int(4) }, () => randomValue(depth + 1));
    default: { const o = {}; for (let i = int(4); i > 0; i--) o[pick(['model', 'messages', 'name', 'x', 'role', 'content', 'arguments', ''])] = randomValue(depth + 1); return o; }
  }
}

// Swap one value somewhere in v for a random one.
function mutateJson(v) {
  if (v === null || typeof v !== 'object' || rnd() < 0.25) return randomValue();
  const keys = Object.keys(v);
  if (keys.length === 0) return randomValue();
  const k = pick(keys);
  const c = Array.isArray(v) ? v.slice() : { ...v };
  c[k] = mutateJson(v[k]);
  if (!Array.isArray(c) && rnd() < 0.2) delete c[pick(keys)];
  return c;
}

function body(path) {
  const s = samples[path] || {};
  const kind = int(10);
  if (kind < 5) return Buffer.from(JSON.stringify(mutateJson(s)));
  const b = Buffer.from(JSON.stringify(s));
  if (kind === 5) return b.subarray(0, int(b.length)); // cut short
  if (kind === 6) { for (let i = int(4) + 1; i > 0; i--) b[int(b.length)] = int(256); return b; } // flipped bytes
  if (kind === 7) { const d = 500 + int(5000); return Buffer.from('['.repeat(d) + ']'.repeat(d)); } // deep
  if (kind === 8) return randBytes(int(300), false); // not JSON
  return Buffer.from(JSON.stringify(s).replace(/"[^"]*"/, '"\\ud800\\u0000"')); // lone surrogate, NUL escape
}

// Mostly valid credentials, so most requests get past auth into handlers;
// never on logout, which ends every token of its caller.
function auth(path) {
  switch (path === '/v1/auth/logout' ? 7 + int(3) : int(10)) {
    case 0: return null;
    case 1: case 2: case 3: return 'Bearer ' + adminToken;
    case 4: case 5: case 6: return 'Bearer ' + token;
    case 7: return 'Bearer ' + randBytes(int(80), true).toString('latin1');
    case 8: return 'Bearer ' + token.slice(0, -3) + 'AAA'; // bad signature
    default: return lineSafe(randBytes(int(60), false)).toString('latin1');
  }
}

function buildRequest(route) {
  let path = route.path.replace(/\{[^}]+\}/g, () => lineSafe(randBytes(int(40), false)).toString('latin1'));
  if (rnd() < 0.3) path += '?' + pick(['limit', 'offset', 'x', '']) + '=' + lineSafe(randBytes(int(30), false)).toString('latin1');
  if (rnd() < 0.1) path = path.replace(/\//g, pick(['//', '/./', '/%2e%2e/', '/%2F']));
  const method = rnd() < 0.9 ? route.method : pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'FOO']);
  const hasBody = method !== 'GET' && method !== 'DELETE' && rnd() < 0.95;
  const b = hasBody ? body(route.path) : Buffer.alloc(0);
  const h = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  const a = auth(route.path);
  if (a !== null) h.push('Authorization: ' + a);
  if (hasBody) h.push('Content-Type: ' + pick(['application/json', 'application/json', 'text/plain', 'application/json; charset=latin1', '']));
  if (route.path.includes('mcp')) h.push('Accept: application/json, text/event-stream', 'MCP-Protocol-Version: ' + pick(['2025-11-25', '2025-03-26', '1.0', lineSafe(randBytes(10, false)).toString('latin1')]));
  if (rnd() < 0.2) h.push('X-Forwarded-For: ' + lineSafe(randBytes(int(40), false)).toString('latin1'));
  if (rnd() < 0.2) h.push('X-User-ID: ' + lineSafe(randBytes(int(40), false)).toString('latin1'));
  if (rnd() < 0.1) h.push('mcp-session-id: ' + lineSafe(randBytes(int(60), false)).toString('latin1'));
  h.push('Content-Length: ' + b.length);
  return { method, path, head: Buffer.from(h.join('\r\n') + '\r\n\r\n', 'latin1'), body: b };
}

function send(req) {
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect(Number(port), '127.0.0.1', () => { s.write(req.head); s.end(req.body); });
    s.setTimeout(15000, () => { s.destroy(); resolve({ timeout: true }); });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve({ raw: Buffer.concat(chunks) }));
  });
}

function check(res) {
  if (res.timeout) return 'no answer in 15 s';
  const raw = res.raw;
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return raw.length === 0 ? 'connection closed without an answer' : 'no end of headers';
  const head = raw.subarray(0, end).toString('latin1');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  if (!m) return 'bad status line: ' + head.split('\r\n')[0];
  const status = Number(m[1]);
  if (status >= 500 && status !== 502 && status !== 503 && status !== 504) return 'status ' + status;
  let bodyBuf = raw.subarray(end + 4);
  if (/^transfer-encoding: *chunked/im.test(head)) {
    const parts = []; let i = 0;
    for (;;) {
      const e = bodyBuf.indexOf('\r\n', i); if (e < 0) break;
      const n = parseInt(bodyBuf.subarray(i, e).toString('latin1'), 16);
      if (!(n > 0)) break;
      parts.push(bodyBuf.subarray(e + 2, e + 2 + n)); i = e + 2 + n + 2;
    }
    bodyBuf = Buffer.concat(parts);
  }
  if (/^content-type: *application\/json/im.test(head) && status !== 204 && status !== 202) {
    let text;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(bodyBuf); } catch { return `status ${status}: JSON body is not UTF-8`; }
    try { JSON.parse(text); } catch { return `status ${status}: body is not JSON: ${JSON.stringify(text.slice(0, 120))}`; }
  }
  return null;
}

const failures = [];
const statuses = {};
let next = 0;
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= count) return;
    const route = pick(routes);
    const req = buildRequest(route);
    const res = await send(req);
    const why = check(res);
    const st = res.raw ? res.raw.subarray(9, 12).toString() : 'none';
    statuses[st] = (statuses[st] || 0) + 1;
    if (why && failures.length < 20) failures.push({ i, route: route.method + ' ' + route.path, sent: req.method + ' ' + JSON.stringify(req.path), body: req.body.subarray(0, 200).toString('latin1'), why });
  }
}
await Promise.all([worker(), worker(), worker(), worker()]);
console.log(JSON.stringify({ count, failures, statuses }));
