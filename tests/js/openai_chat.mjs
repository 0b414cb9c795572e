// The official openai client against TriForce: a chat and a streamed chat
// per model given on the command line. Prints one JSON line per call.
//   node openai_chat.mjs BASE_URL API_KEY MODEL...
import OpenAI from "openai";

const [base, key, ...models] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0, timeout: 15000 });
const messages = [
  { role: "system", content: "be brief" },
  { role: "user", content: "hello there" },
];

for (const model of models) {
  try {
    const r = await client.chat.completions.create({ model, messages });
    console.log(JSON.stringify({ call: "chat", model, answered: r.model, text: r.choices[0].message.content,
      finish: r.choices[0].finish_reason, usage: r.usage }));
  } catch (e) {
    console.log(JSON.stringify({ call: "chat", model, error: String(e) }));
  }
  try {
    const stream = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
    let text = "", finish = null, usage = null, chunks = 0, answered = null;
    for await (const c of stream) {
      chunks++;
      answered = c.model;
      if (c.choices.length > 0) {
        text += c.choices[0].delta?.content ?? "";
        if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
      }
      if (c.usage) usage = c.usage;
    }
    console.log(JSON.stringify({ call: "stream", model, answered, text, finish, usage, chunks }));
  } catch (e) {
    console.log(JSON.stringify({ call: "stream", model, error: String(e) }));
  }
}
