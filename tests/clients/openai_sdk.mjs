// The official OpenAI TypeScript SDK, unmodified, against the relay's Chat Completions routes.
// Env: CRS_BASE_URL (e.g. http://127.0.0.1:3000/openai/claude/v1), CRS_KEY (a relay key with
// the openai permission), CRS_CLAUDE_ONLY_KEY (a key without it), CRS_SONNET_ONLY_KEY (a key
// allowed only claude-sonnet-*). The relay's upstream is the fake, scripted by the test to
// answer "weather" requests with a tool call. Exit 0 = all passed.
import OpenAI from 'openai';

const baseURL = process.env.CRS_BASE_URL;
const client = new OpenAI({ apiKey: process.env.CRS_KEY, baseURL, maxRetries: 0 });
const model = 'claude-sonnet-4-5-20250929';
const checks = [];

function expect(name, condition, detail) {
  checks.push({ name, ok: Boolean(condition), detail });
  if (!condition) console.error(`FAILED: ${name}: ${JSON.stringify(detail)}`);
}

async function expectError(name, errorClass, status, call) {
  try {
    await call();
    expect(name, false, 'no error');
  } catch (e) {
    expect(name, e instanceof errorClass && e.status === status && typeof e.message === 'string', String(e));
  }
}

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

// ---- plain chat ----
const created = await client.chat.completions.create({
  model,
  max_tokens: 64,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello from the OpenAI SDK' },
  ],
});
const choice = created.choices[0];
expect('create returns a chat.completion', created.object === 'chat.completion' && created.model === model, created);
expect('create has text and finish_reason stop', choice.message.content.length > 0 && choice.finish_reason === 'stop', choice);
expect(
  'create reports usage',
  created.usage.prompt_tokens > 0 && created.usage.completion_tokens > 0 &&
    created.usage.total_tokens === created.usage.prompt_tokens + created.usage.completion_tokens,
  created.usage,
);

// ---- a stream with include_usage ----
const stream = await client.chat.completions.create({
  model,
  max_completion_tokens: 64,
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: 'user', content: 'Stream please' }],
});
let text = '';
let finish = null;
let usage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.delta?.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
expect('stream delivers text', text.length > 0 && chunks > 2, { text, chunks });
expect('stream ends with finish_reason stop', finish === 'stop', finish);
expect('stream reports usage in its last chunk', usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0, usage);

// The SDK's stream helper assembles the same answer.
const helper = client.chat.completions.stream({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Helper' }] });
let helperText = '';
helper.on('content', (delta) => {
  helperText += delta;
});
const final = await helper.finalChatCompletion();
expect('stream helper final completion', final.choices[0].message.content === helperText && helperText.length > 0, final);

// ---- tools, then the tool's result ----
const asked = [{ role: 'user', content: 'What is the weather in Paris? weather please' }];
const call = await client.chat.completions.create({ model, max_tokens: 128, tools, tool_choice: 'auto', messages: asked });
const toolCalls = call.choices[0].message.tool_calls ?? [];
expect('a tool call', call.choices[0].finish_reason === 'tool_calls' && toolCalls.length === 1, call.choices[0]);
const toolCall = toolCalls[0];
expect(
  'the tool call names the function and its arguments',
  toolCall?.function.name === 'get_weather' && JSON.parse(toolCall.function.arguments).city === 'Paris',
  toolCall,
);
const answered = await client.chat.completions.create({
  model,
  max_tokens: 128,
  tools,
  messages: [
    ...asked,
    call.choices[0].message,
    { role: 'tool', tool_call_id: toolCall?.id ?? 'none', content: '{"temperature_c": 18, "sky": "clear"} tool result here' },
  ],
});
expect('the answer after the tool result', answered.choices[0].finish_reason === 'stop', answered.choices[0]);

// A streamed tool call: the helper reassembles the arguments sent in fragments.
const toolStream = client.chat.completions.stream({ model, max_tokens: 128, tools, messages: asked });
const toolFinal = await toolStream.finalChatCompletion();
const streamedCall = toolFinal.choices[0].message.tool_calls?.[0];
expect(
  'a streamed tool call',
  toolFinal.choices[0].finish_reason === 'tool_calls' && streamedCall?.function.name === 'get_weather' &&
    JSON.parse(streamedCall.function.arguments).city === 'Paris',
  toolFinal.choices[0],
);

// ---- an image ----
const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const seen = await client.chat.completions.create({
  model,
  max_tokens: 32,
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this image?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
      ],
    },
  ],
});
expect('an image request is answered', seen.choices[0].message.content.length > 0, seen.choices[0]);

// ---- models ----
const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
expect('models.list', ids.includes(model), ids);
const one = await client.models.retrieve(model);
expect('models.retrieve', one.id === model && one.object === 'model', one);
await expectError('an unknown model is NotFound', OpenAI.NotFoundError, 404, () => client.models.retrieve('no-such-model'));

// ---- errors the SDK raises as its own classes ----
const bad = new OpenAI({ apiKey: 'cr_' + '0'.repeat(64), baseURL, maxRetries: 0 });
const tiny = { model, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] };
await expectError('a bad key is AuthenticationError', OpenAI.AuthenticationError, 401, () => bad.chat.completions.create(tiny));
const claudeOnly = new OpenAI({ apiKey: process.env.CRS_CLAUDE_ONLY_KEY, baseURL, maxRetries: 0 });
await expectError('a key without the openai permission is PermissionDenied', OpenAI.PermissionDeniedError, 403, () =>
  claudeOnly.chat.completions.create(tiny),
);
const sonnetOnly = new OpenAI({ apiKey: process.env.CRS_SONNET_ONLY_KEY, baseURL, maxRetries: 0 });
await expectError('a model the key may not use is PermissionDenied', OpenAI.PermissionDeniedError, 403, () =>
  sonnetOnly.chat.completions.create({ ...tiny, model: 'claude-opus-4-1-20250805' }),
);
await expectError('n > 1 is BadRequest', OpenAI.BadRequestError, 400, () => client.chat.completions.create({ ...tiny, n: 2 }));

const failed = checks.filter((c) => !c.ok);
console.log(JSON.stringify({ passed: checks.length - failed.length, failed: failed.map((c) => c.name) }));
process.exit(failed.length ? 1 : 0);
