// The official MCP TypeScript SDK client against TriForce's /v1/mcp, with a
// JWT: every tool page, tool calls (good and bad arguments), prompts,
// resources, completion, logging level, and a resource subscription whose
// update arrives on the session's stream. Prints TAP lines for
// tests/integration/89_mcp_sdk.sh.
//   node mcp_sdk_client.mjs URL TOKEN EMAIL EXPECTED_TOOL_COUNT
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const [url, token, email, expectedTools] = process.argv.slice(2);
let n = 0;
const ok = (cond, desc, detail) => {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${desc}`);
  if (!cond && detail !== undefined) console.log(`#   ${String(JSON.stringify(detail)).slice(0, 1500)}`);
};
const attempt = async (desc, fn) => {
  try {
    await fn();
  } catch (e) {
    ok(false, desc, String(e && e.stack ? e.stack : e));
  }
};

const client = new Client({ name: 'triforce-sdk-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const updates = [];
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => updates.push(note.params.uri));

await attempt('connect', async () => {
  await client.connect(transport);
  ok(client.getServerVersion()?.name === 'triforce', 'connects with a JWT: server triforce', client.getServerVersion());
  const caps = client.getServerCapabilities();
  ok(!!(caps.tools && caps.prompts && caps.resources?.subscribe && caps.logging && caps.completions),
     'capabilities: tools, prompts, resources (subscribe), logging, completions', caps);
  ok(typeof transport.sessionId === 'string' && transport.sessionId.length > 20, 'an Mcp-Session-Id', transport.sessionId);
});

await attempt('tools', async () => {
  const names = [];
  let cursor, pages = 0;
  do {
    const r = await client.listTools(cursor ? { cursor } : {});
    pages++;
    names.push(...r.tools.map((t) => t.name));
    cursor = r.nextCursor;
  } while (cursor && pages < 100);
  ok(pages > 1, `tools/list comes in several pages (${pages})`, pages);
  ok(names.length === Number(expectedTools), `every page together: ${names.length} tools, as GET /v1/mcp/tools says`, { got: names.length, expectedTools });
  ok(new Set(names).size === names.length, 'no tool twice across pages');
  ok(names.includes('memory_store') && names.includes('code_read') && names.includes('web_crawl'), 'memory, code and web tools are there');

  const who = await client.callTool({ name: 'whoami', arguments: {} });
  ok(who.structuredContent?.email === email && !who.isError, 'tools/call whoami: the JWT\'s user', who);
  const est = await client.callTool({ name: 'estimate_tokens', arguments: { text: 'hello world, hello tokens' } });
  ok(!est.isError && est.structuredContent?.tokens > 0, 'tools/call estimate_tokens: a count', est);
  const bad = await client.callTool({ name: 'estimate_tokens', arguments: { text: 42 } });
  ok(bad.isError === true && bad._meta?.field === '/text' && bad._meta?.rule === 'type', 'bad arguments: isError naming /text and the rule', bad);
});

await attempt('prompts', async () => {
  const r = await client.listPrompts();
  const names = r.prompts.map((p) => p.name);
  ok(names.includes('brumo') && names.includes('code_review'), 'prompts/list: brumo and code_review', names);
  ok(!names.some((x) => x.startsWith('test_')), 'no conformance fixtures when conformance is off', names);
  const p = await client.getPrompt({ name: 'brumo', arguments: { question: 'What is a gateway?', tone: 'deadpan' } });
  const text = p.messages[0]?.content?.text || '';
  ok(text.includes('You are Brumo') && text.includes('What is a gateway?') && text.includes('deadpan'), 'prompts/get brumo: persona, question and tone filled in', p);
  let code;
  try {
    await client.getPrompt({ name: 'brumo', arguments: {} });
  } catch (e) {
    code = e.code;
  }
  ok(code === -32602, 'prompts/get without a required argument: -32602', code);
  const c = await client.complete({ ref: { type: 'ref/prompt', name: 'code_review' }, argument: { name: 'language', value: 'py' } });
  ok(JSON.stringify(c.completion.values) === '["python"]', 'completion/complete: language "py" -> python', c);
});

await attempt('resources', async () => {
  const r = await client.listResources();
  const uris = r.resources.map((x) => x.uri);
  ok(uris.includes('triforce://tiers') && uris.includes('triforce://models') && uris.includes('triforce://memory'), 'resources/list: tiers, models, memory', uris);
  const t = await client.listResourceTemplates();
  ok(t.resourceTemplates.some((x) => x.uriTemplate === 'triforce://memory/{id}'), 'resources/templates/list: triforce://memory/{id}', t);
  const tiers = await client.readResource({ uri: 'triforce://tiers' });
  const parsed = JSON.parse(tiers.contents[0].text);
  ok(tiers.contents[0].mimeType === 'application/json' && parsed.tiers.map((x) => x.tier).join(',') === 'guest,registered,pro,unlimited',
     'resources/read triforce://tiers: the four tiers', parsed);
  const models = JSON.parse((await client.readResource({ uri: 'triforce://models' })).contents[0].text);
  ok(models.tier === 'registered' && models.models.length > 0, 'resources/read triforce://models: this tier\'s models', models);
  let code;
  try {
    await client.readResource({ uri: 'triforce://nothing' });
  } catch (e) {
    code = e.code;
  }
  ok(code === -32002, 'resources/read of an unknown URI: -32002', code);

  // A memory, subscribed: its update reaches this client on the session's stream.
  const st = await client.callTool({ name: 'memory_store', arguments: { content: 'the sdk test was here', tags: ['sdk'] } });
  const id = st.structuredContent?.id;
  ok(typeof id === 'string', 'memory_store: an id', st);
  const one = JSON.parse((await client.readResource({ uri: `triforce://memory/${id}` })).contents[0].text);
  ok(one.content === 'the sdk test was here', 'resources/read triforce://memory/{id}: that memory', one);
  await client.setLoggingLevel('warning');
  ok(true, 'logging/setLevel warning');
  await client.subscribeResource({ uri: `triforce://memory/${id}` });
  await new Promise((res) => setTimeout(res, 300)); // the GET stream is open by now
  await client.callTool({ name: 'memory_update', arguments: { id, content: 'changed by the sdk test' } });
  for (let i = 0; i < 30 && !updates.includes(`triforce://memory/${id}`); i++) await new Promise((res) => setTimeout(res, 100));
  ok(updates.includes(`triforce://memory/${id}`), 'resources/subscribe: notifications/resources/updated after memory_update', updates);
  await client.unsubscribeResource({ uri: `triforce://memory/${id}` });
  await client.callTool({ name: 'memory_delete', arguments: { id } });
});

await attempt('close', async () => {
  await transport.terminateSession();
  await client.close();
  ok(true, 'session terminated (DELETE) and closed');
});
console.log(`# sdk checks: ${n}`);
