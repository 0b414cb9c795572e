// tests/js/hostile_upstream.mjs - chats through TriForce while the fake
// providers garble their answers (fake knob "garble": bytes that spoil
// JSON, SSE or UTF-8 in every body and stream event).
//
//   node hostile_upstream.mjs CHAT_URL TOKEN ROUNDS MODEL...
//
// For each round and model: one whole answer and one stream, with fallback
// off so each wire protocol's reader gets the spoiled bytes itself. What
// reaches the client must be a clean answer or a clean error: status 200
// or 502/503/504 (never 500), strict UTF-8, a JSON body that parses, or SSE
// whose every data line is JSON, ending in [DONE] or in an error event;
// every answer ends within 10 s.
// Prints one JSON summary line.
const [url, token, roundsArg, ...models] = process.argv.slice(2);
const rounds = Number(roundsArg) || 10;
const failures = [];
const tally = {};
function fail(what, detail) { if (failures.length < 20) failures.push({ what, ...detail }); }

async function one(model, stream) {
  const body = { model, fallback: false, stream, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }] };
  if (stream) body.stream_options = { include_usage: true };
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), 10000);
  const detail = { model, stream };
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token }, body: JSON.stringify(body), signal: ac.signal });
    const buf = Buffer.from(await r.arrayBuffer());
    const key = `${stream ? 'stream' : 'json'} ${r.status}`;
    tally[key] = (tally[key] || 0) + 1;
    detail.status = r.status;
    if (r.status !== 200 && r.status !== 502 && r.status !== 503 && r.status !== 504) return fail('status', detail);
    let text;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(buf); } catch { return fail('not UTF-8', detail); }
    const ct = r.headers.get('content-type') || '';
    if (ct.startsWith('text/event-stream')) {
      // It ends with [DONE], or - as OpenAI's own streams do when the
      // model fails mid-answer - with an error event and no [DONE].
      let done = 0, last = null;
      for (const line of text.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const d = line.slice(5).trim();
        if (done) return fail('data after [DONE]', { ...detail, tail: text.slice(-200) });
        if (d === '[DONE]') { done++; continue; }
        try { last = JSON.parse(d); } catch { return fail('SSE data is not JSON', { ...detail, data: d.slice(0, 160) }); }
      }
      if (!done && !(last && last.error && typeof last.error.message === 'string'))
        return fail('stream ends with neither [DONE] nor an error event', { ...detail, tail: text.slice(-200) });
      if (!done) tally['stream ended by an error event'] = (tally['stream ended by an error event'] || 0) + 1;
    } else {
      try { JSON.parse(text); } catch { return fail('body is not JSON', { ...detail, body: text.slice(0, 160) }); }
    }
  } catch (e) {
    fail('no answer in 10 s: ' + e.name, detail);
  } finally {
    clearTimeout(t);
  }
}

for (let r = 0; r < rounds; r++)
  await Promise.all(models.flatMap((m) => [one(m, false), one(m, true)]));
console.log(JSON.stringify({ requests: rounds * models.length * 2, tally, failures }));
