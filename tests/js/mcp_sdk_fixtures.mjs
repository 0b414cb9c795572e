// The official MCP TypeScript SDK client against TriForce in conformance mode
// (conf mcp.conformance: true), with a JWT: what flows from the server to
// the client during a tool call. Progress and log notifications, a
// sampling and an elicitation request answered by this client and routed
// back to the call, a response stream the server closes mid-call (the SDK
// reconnects with Last-Event-ID), and the same requests to a client that
// declared no capability. Prints TAP lines for tests/integration/89_mcp_sdk.sh.
//   node mcp_sdk_fixtures.mjs URL TOKEN EXPECTED_TOOL_COUNT
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const [url, token, expectedTools] = process.argv.slice(2);
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
const connect = async (capabilities) => {
  const client = new Client({ name: 'triforce-sdk-fixtures', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    // Reconnect quickly after the server closes a stream (it says retry: 500).
    reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 },
  });
  return { client, transport };
};
const textOf = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');

const { client, transport } = await connect({ sampling: {}, elicitation: {} });
const logs = [];
const asked = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (note) => logs.push(note.params));
client.setRequestHandler(CreateMessageRequestSchema, (req) => {
  asked.push(req.method);
  const prompt = req.params.messages[0]?.content?.text;
  return { model: 'sdk-echo', role: 'assistant', content: { type: 'text', text: `echo of ${prompt}` } };
});
client.setRequestHandler(ElicitRequestSchema, (req) => {
  asked.push(req.method);
  return { action: 'accept', content: { response: `seen: ${req.params.message}` } };
});

await attempt('connect', async () => {
  await client.connect(transport);
  ok(client.getServerVersion()?.name === 'triforce', 'conformance mode: the SDK connects with a JWT');
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
  ok(names.length === Number(expectedTools) && new Set(names).size === names.length,
     `all pages: ${names.length} tools, as GET /v1/mcp/tools says`, { got: names.length, expectedTools });
  ok(names.includes('test_tool_with_progress') && names.includes('json_schema_2020_12_tool'), 'the fixtures are listed', names);
});

await attempt('progress', async () => {
  const seen = [];
  const r = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, { onprogress: (p) => seen.push(p) });
  ok(JSON.stringify(seen.map((p) => [p.progress, p.total])) === '[[0,100],[50,100],[100,100]]',
     'progress notifications 0, 50, 100 of 100 reach onprogress before the result', seen);
  ok(seen.every((p) => typeof p.message === 'string' && p.message.length > 0), '  ... each with a message', seen);
  ok(!r.isError && /^[0-9]+$/.test(textOf(r)), '  ... and the result names the SDK\'s progress token', r);
});

await attempt('logging', async () => {
  await client.setLoggingLevel('warning');
  logs.length = 0;
  let r = await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
  ok(!r.isError && logs.length === 0, 'logging/setLevel warning: the tool\'s info messages are held back', logs);
  await client.setLoggingLevel('info');
  r = await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
  ok(JSON.stringify(logs.map((l) => [l.level, l.data])) ===
       '[["info","Tool execution started"],["info","Tool processing data"],["info","Tool execution completed"]]',
     'logging/setLevel info: three notifications/message, in order, before the result', logs);
  ok(textOf(r) === 'Tool with logging executed successfully', '  ... then the result', r);
});

await attempt('sampling', async () => {
  asked.length = 0;
  const r = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'two plus two' } });
  ok(asked.join() === 'sampling/createMessage' && textOf(r) === 'LLM response: echo of two plus two',
     'sampling/createMessage: asked of this client, its answer routed back into the call', { asked, r });
});

await attempt('elicitation', async () => {
  asked.length = 0;
  const r = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Your name?' } });
  ok(asked.join() === 'elicitation/create' && textOf(r) === 'User response: action=accept, content={"response":"seen: Your name?"}',
     'elicitation/create: asked of this client, its answer routed back into the call', { asked, r });
});

await attempt('reconnection', async () => {
  const t0 = Date.now();
  const r = await client.callTool({ name: 'test_reconnection', arguments: {} });
  ok(textOf(r).startsWith('Reconnection test completed successfully'),
     `a stream closed mid-call: the SDK reconnects with Last-Event-ID and gets the result (${Date.now() - t0} ms)`, r);
});

await attempt('error', async () => {
  const r = await client.callTool({ name: 'test_error_handling', arguments: {} });
  ok(r.isError === true && textOf(r) === 'This tool intentionally returns an error for testing', 'a tool error: isError with its text', r);
});

await attempt('close', async () => {
  await transport.terminateSession();
  await client.close();
});

// A client that declared neither sampling nor elicitation is not asked.
await attempt('no capabilities', async () => {
  // (The SDK answers an undeclared request with an error; the fixtures word
  // "not asked" differently from "asked and refused".)
  const bare = await connect({});
  await bare.client.connect(bare.transport);
  const s = await bare.client.callTool({ name: 'test_sampling', arguments: { prompt: 'x' } });
  ok(textOf(s) === 'Sampling not supported or error: the client cannot sample', 'sampling with a client that cannot: not asked, the tool is told', s);
  const e = await bare.client.callTool({ name: 'test_elicitation', arguments: { message: 'x' } });
  ok(textOf(e) === 'Elicitation not supported or error: the client cannot elicit', '  ... elicitation likewise', e);
  await bare.transport.terminateSession();
  await bare.client.close();
});
console.log(`# sdk fixture checks: ${n}`);
