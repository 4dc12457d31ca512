// The official Anthropic TypeScript SDK, unmodified, against the relay.
// Env: CRS_BASE_URL (e.g. http://127.0.0.1:3000/api), CRS_KEY (a relay key); CRS_SKIP_COUNT_TOKENS=1
// when the relay's accounts cannot count tokens (Bedrock). Exit 0 = all passed.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ apiKey: process.env.CRS_KEY, baseURL: process.env.CRS_BASE_URL, maxRetries: 0 });
const model = 'claude-sonnet-4-5-20250929';
const checks = [];

function expect(name, condition, detail) {
  checks.push({ name, ok: Boolean(condition), detail });
  if (!condition) console.error(`FAILED: ${name}: ${JSON.stringify(detail)}`);
}

const created = await client.messages.create({
  model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello from the SDK' }],
});
expect('messages.create returns a message', created.type === 'message' && created.content[0].type === 'text', created);
expect('messages.create has usage', created.usage.input_tokens > 0 && created.usage.output_tokens > 0, created.usage);

const stream = client.messages.stream({
  model, max_tokens: 64, messages: [{ role: 'user', content: 'Stream please' }],
});
let text = '';
stream.on('text', (delta) => { text += delta; });
const final = await stream.finalMessage();
expect('messages.stream delivers text events', text.length > 0 && text === final.content[0].text, { text });
expect('messages.stream final usage', final.usage.output_tokens > 0, final.usage);

if (process.env.CRS_SKIP_COUNT_TOKENS !== '1') {
  const counted = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'Count me' }] });
  expect('countTokens', typeof counted.input_tokens === 'number' && counted.input_tokens > 0, counted);
}

const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
expect('models.list', ids.length > 0 && ids.includes(model), ids);

// A bad key is an AuthenticationError the SDK understands.
const bad = new Anthropic({ apiKey: 'cr_' + '0'.repeat(64), baseURL: process.env.CRS_BASE_URL, maxRetries: 0 });
try {
  await bad.messages.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] });
  expect('bad key is refused', false, 'no error');
} catch (e) {
  expect('bad key is refused', e instanceof Anthropic.AuthenticationError && e.status === 401, String(e));
}

const failed = checks.filter((c) => !c.ok);
console.log(JSON.stringify({ passed: checks.length - failed.length, failed: failed.map((c) => c.name) }));
process.exit(failed.length ? 1 : 0);
