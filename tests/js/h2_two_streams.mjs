// Two streamed chats on one HTTP/2 connection to TriForce (so one server
// thread, so one upstream connection when the provider speaks h2c); the
// second is cancelled after CANCEL_MS while the first runs on.
// Usage: node h2_two_streams.mjs URL TOKEN BODY CANCEL_MS HOLD_MS
// Prints one JSON line: {"a_bytes":..,"b_bytes":..,"b_closed":true}
// after HOLD_MS, then closes the first stream too.
import http2 from 'node:http2';

const [url, token, body, cancelMs, holdMs] = process.argv.slice(2);
const u = new URL(url);
const session = http2.connect(u.origin);
session.on('error', (e) => { console.error(e.message); process.exit(2); });

function open() {
  const s = session.request({
    ':method': 'POST', ':path': u.pathname,
    'content-type': 'application/json', authorization: `Bearer ${token}`,
  });
  s.bytes = 0;
  s.on('data', (d) => { s.bytes += d.length; });
  s.on('error', () => {});
  s.end(body);
  return s;
}

const a = open();
const b = open();
let bClosed = false;
setTimeout(() => { b.close(http2.constants.NGHTTP2_CANCEL); bClosed = true; }, Number(cancelMs));
setTimeout(() => {
  console.log(JSON.stringify({ a_bytes: a.bytes, b_bytes: b.bytes, b_closed: bClosed }));
  a.close(http2.constants.NGHTTP2_CANCEL);
  session.close();
  setTimeout(() => process.exit(0), 100);
}, Number(holdMs));
