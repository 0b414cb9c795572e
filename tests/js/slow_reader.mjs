// tests/js/slow_reader.mjs - a streamed chat whose client stops reading.
//
//   node slow_reader.mjs PORT TOKEN MODEL PAUSE_MS FAKE_STATS_URL TF_PID
//
// Sends the chat over a raw HTTP/1.1 socket, and at the first bytes of the
// answer stops reading for PAUSE_MS (the kernel's buffers fill, then the
// gateway's writes wait). At the end of the pause it notes how many token
// events the fake provider has written meanwhile and the gateway's resident
// memory; then it reads the answer to its end. Prints one JSON line:
// { events_paused, events_total, rss_kb_before, rss_kb_paused, chunks, done, status }.
import net from 'node:net';
import fs from 'node:fs';

const [port, token, model, pauseArg, statsUrl, tfPid] = process.argv.slice(2);
const pauseMs = Number(pauseArg) || 2000;
const rss = () => Number((/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${tfPid}/status`, 'utf8')) || [])[1] || 0);
const events = async () => (await (await fetch(statsUrl)).json()).token_events;

const rssBefore = rss();
const body = JSON.stringify({ model, stream: true, fallback: false, messages: [{ role: 'user', content: 'a long one' }] });
const s = net.connect(Number(port), '127.0.0.1');
s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
let paused = false, result = {};
let tail = '', chunks = 0, done = false, status = 0, headerSeen = false, head = '';
s.setEncoding('latin1');
s.on('data', (d) => {
  if (!headerSeen) {
    head += d;
    const e = head.indexOf('\r\n\r\n');
    if (e < 0) return;
    headerSeen = true;
    status = Number(head.split(' ')[1]);
    d = head.slice(e + 4);
  }
  // Count content chunks as they pass (the answer may be tens of MB).
  const text = tail + d;
  const lines = text.split('\n');
  tail = lines.pop();
  for (const l of lines) {
    if (l.startsWith('data: {') && l.includes('"content":"w')) chunks++;
    else if (l.startsWith('data: [DONE]')) done = true;
  }
  if (!paused) {
    paused = true;
    s.pause();
    setTimeout(async () => {
      result.events_paused = await events();
      result.rss_kb_paused = rss();
      s.resume();
    }, pauseMs);
  }
});
s.on('close', async () => {
  console.log(JSON.stringify({ ...result, events_total: await events(), rss_kb_before: rssBefore, chunks, done, status }));
});
setTimeout(() => { console.log(JSON.stringify({ ...result, timeout: true, chunks, done, status })); process.exit(0); }, 120000).unref();
