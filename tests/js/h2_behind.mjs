// A chat sent behind another on one HTTP/2 connection to TriForce (so on
// one server thread). The first (the holder, a stream) is in flight to its
// provider when the second is sent, so the second is not alone there: on
// an h2c node it takes HTTP/2 (runtime/tf_curl.h), where a lone call takes
// HTTP/1.1. Between the two, CONFIG_JSON is POSTed to CONFIG_URL (a fake
// provider's /_fake/config: settings are read when a request arrives, so
// the holder keeps its own).
// Usage: node h2_behind.mjs URL TOKEN HOLD_BODY BODY CONFIG_URL CONFIG_JSON
// Prints one JSON line for the second: {"status":..,"provider":..,"body":".."},
// then cancels the holder. Exits 2 when the holder gets no answer within 5 s
// or the whole takes over 15 s.
import http2 from 'node:http2';

const [url, token, holdBody, body, configUrl, configJson] = process.argv.slice(2);
const u = new URL(url);
const session = http2.connect(u.origin);
session.on('error', (e) => { console.error(e.message); process.exit(2); });
setTimeout(() => { console.error('timed out'); process.exit(2); }, 15000);

function open(b) {
  const s = session.request({
    ':method': 'POST', ':path': u.pathname,
    'content-type': 'application/json', authorization: `Bearer ${token}`,
  });
  s.on('error', () => {});
  s.end(b);
  return s;
}

const holder = open(holdBody);
const noAnswer = setTimeout(() => { console.error('the holder got no answer'); process.exit(2); }, 5000);
// Its first bytes mean TriForce has its upstream call under way.
holder.once('data', async () => {
  clearTimeout(noAnswer);
  const r = await fetch(configUrl, { method: 'POST', body: configJson });
  if (!r.ok) { console.error(`config: HTTP ${r.status}`); process.exit(2); }
  const s = open(body);
  let status = 0, provider = null, text = '';
  s.on('response', (h) => { status = h[':status']; provider = h['x-triforce-provider'] ?? null; });
  s.setEncoding('utf8');
  s.on('data', (d) => { text += d; });
  s.on('end', () => {
    console.log(JSON.stringify({ status, provider, body: text }));
    holder.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
    setTimeout(() => process.exit(0), 100);
  });
});
