// Fills a Redis with data laid out as the Node.js Claude Relay Service (v1.1.x) writes it, made
// with its own hashing and encryption (node:crypto, the calls its services make): relay keys
// stored as SHA-256(key + ENCRYPTION_KEY), Console and OAuth accounts with AES-256-CBC secrets
// under scrypt(ENCRYPTION_KEY, per-type salt), an account group, usage totals and buckets.
// The import test (`crs import crs`) reads it. No npm dependencies: RESP over node:net.
//
//   node crs_fixture.mjs --port P [--password PW] --encryption-key K --upstream URL
// prints a JSON description of what it wrote (plaintext keys included, for the test only).
import crypto from 'node:crypto'
import net from 'node:net'

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), [])
)
const ENC = args['encryption-key']
const upstream = args.upstream

// ---- the Node.js service's own crypto ----
const hashApiKey = (key) => crypto.createHash('sha256').update(key + ENC).digest('hex')
const encrypt = (salt, text) => {
  const key = crypto.scryptSync(ENC, salt, 32)
  const iv = crypto.randomBytes(16)
  const cipher = crypto.createCipheriv('aes-256-cbc', key, iv)
  return `${iv.toString('hex')}:${cipher.update(text, 'utf8', 'hex')}${cipher.final('hex')}`
}
const newKey = () => `cr_${crypto.randomBytes(32).toString('hex')}`

// ---- RESP ----
function resp(parts) {
  let out = `*${parts.length}\r\n`
  for (const p of parts) {
    const b = Buffer.from(String(p))
    out += `$${b.length}\r\n${b.toString('binary')}\r\n`
  }
  return Buffer.from(out, 'binary')
}
const commands = []
const cmd = (...parts) => commands.push(parts)
const hset = (key, obj) => cmd('HSET', key, ...Object.entries(obj).flat())

// ---- the data ----
const now = new Date()
const iso = (d) => d.toISOString()
const day = (d) => {  // TIMEZONE_OFFSET 8, the Node.js service's default
  const t = new Date(d.getTime() + 8 * 3600 * 1000)
  return t.toISOString().slice(0, 10)
}
const out = { encryptionKey: ENC, keys: [], accounts: [], groups: [] }

const consoleId = crypto.randomUUID()
const consoleSecret = `sk-ant-api03-crs-import-${crypto.randomBytes(6).toString('hex')}`
hset(`claude_console_account:${consoleId}`, {
  id: consoleId, platform: 'claude-console', name: 'console-imported', description: 'from the Node.js service',
  apiUrl: upstream, apiKey: encrypt('claude-console-salt', consoleSecret), priority: '10',
  supportedModels: JSON.stringify({ 'claude-sonnet-4-5-20250929': 'claude-sonnet-4-5-20250929' }), userAgent: 'claude-cli/1.0.69 (external, cli)', rateLimitDuration: '60',
  proxy: '', isActive: 'true', accountType: 'shared', createdAt: iso(now), lastUsedAt: '', status: 'active',
  errorMessage: '', rateLimitedAt: '', rateLimitStatus: '', schedulable: 'true', dailyQuota: '0',
  dailyUsage: '0', maxConcurrentTasks: '3', disableAutoProtection: 'false', interceptWarmup: 'false'
})
cmd('SADD', 'claude_console_account:index', consoleId)
cmd('SADD', 'shared_claude_console_accounts', consoleId)
out.accounts.push({ id: consoleId, type: 'claude-console', name: 'console-imported', secret: consoleSecret })

// A dedicated account: outside the shared pool (only keys bound to it use it).
const dedicatedId = crypto.randomUUID()
hset(`claude_console_account:${dedicatedId}`, {
  id: dedicatedId, platform: 'claude-console', name: 'dedicated-imported', apiUrl: `${upstream}/v1/messages/`,
  apiKey: encrypt('claude-console-salt', `${consoleSecret}-dedicated`), priority: '50', isActive: 'true',
  accountType: 'dedicated', schedulable: 'true', status: 'active', createdAt: iso(now)
})
cmd('SADD', 'claude_console_account:index', dedicatedId)
out.accounts.push({ id: dedicatedId, type: 'claude-console', name: 'dedicated-imported' })

const oauthId = crypto.randomUUID()
const oauth = {
  accessToken: `sk-ant-oat01-crs-import-${crypto.randomBytes(6).toString('hex')}`,
  refreshToken: `sk-ant-ort01-crs-import-${crypto.randomBytes(6).toString('hex')}`,
  expiresAt: now.getTime() + 6 * 3600 * 1000,
  scopes: ['user:inference', 'user:profile']
}
hset(`claude:account:${oauthId}`, {
  id: oauthId, name: 'max-imported', description: '', email: encrypt('salt', 'someone@example.com'),
  password: '', claudeAiOauth: encrypt('salt', JSON.stringify(oauth)), accessToken: encrypt('salt', oauth.accessToken),
  refreshToken: encrypt('salt', oauth.refreshToken), expiresAt: String(oauth.expiresAt), scopes: oauth.scopes.join(' '),
  proxy: JSON.stringify({ type: 'socks5', host: '127.0.0.1', port: 1080, username: 'u', password: 'p' }),
  isActive: 'true', accountType: 'shared', platform: 'claude', priority: '50', schedulable: 'true',
  createdAt: iso(now), lastUsedAt: '', lastRefreshAt: '', status: 'active', errorMessage: '',
  subscriptionInfo: JSON.stringify({ accountType: 'claude_max', hasClaudeMax: true })
})
cmd('SADD', 'claude:account:index', oauthId)
out.accounts.push({ id: oauthId, type: 'claude-oauth', name: 'max-imported', secret: oauth.accessToken,
                    refreshToken: oauth.refreshToken })

// An account whose secret does not decrypt under this ENCRYPTION_KEY: reported, never used.
const brokenId = crypto.randomUUID()
hset(`claude_console_account:${brokenId}`, {
  id: brokenId, platform: 'claude-console', name: 'broken-secret', apiUrl: upstream,
  apiKey: `${crypto.randomBytes(16).toString('hex')}:${crypto.randomBytes(32).toString('hex')}`,
  priority: '50', isActive: 'true', schedulable: 'true', status: 'active', createdAt: iso(now)
})
cmd('SADD', 'claude_console_account:index', brokenId)
out.accounts.push({ id: brokenId, type: 'claude-console', name: 'broken-secret', broken: true })

// A proxy this relay cannot read: the account must not go out without it.
const oddProxyId = crypto.randomUUID()
hset(`claude_console_account:${oddProxyId}`, {
  id: oddProxyId, platform: 'claude-console', name: 'odd-proxy', apiUrl: upstream,
  apiKey: encrypt('claude-console-salt', `${consoleSecret}-odd`), priority: '50', isActive: 'true',
  proxy: JSON.stringify({ type: 'ftp', host: '127.0.0.1', port: 21 }), schedulable: 'true', status: 'active',
  createdAt: iso(now)
})
cmd('SADD', 'claude_console_account:index', oddProxyId)
out.accounts.push({ id: oddProxyId, type: 'claude-console', name: 'odd-proxy', broken: true })

const groupId = crypto.randomUUID()
hset(`account_group:${groupId}`, { id: groupId, name: 'imported-group', platform: 'claude', description: '',
                                   createdAt: iso(now), updatedAt: iso(now) })
cmd('SADD', `account_group_members:${groupId}`, consoleId)
cmd('SADD', 'account_groups', groupId)
out.groups.push({ id: groupId, name: 'imported-group', members: [consoleId] })

function apiKey(name, extra) {
  const plaintext = newKey()
  const id = crypto.randomUUID()
  const data = {
    id, name, description: '', apiKey: hashApiKey(plaintext), tokenLimit: '0', concurrencyLimit: '0',
    rateLimitWindow: '0', rateLimitRequests: '0', rateLimitCost: '0', isActive: 'true', claudeAccountId: '',
    claudeConsoleAccountId: '', geminiAccountId: '', openaiAccountId: '', azureOpenaiAccountId: '',
    bedrockAccountId: '', droidAccountId: '', permissions: JSON.stringify([]), enableModelRestriction: 'false',
    restrictedModels: JSON.stringify([]), enableClientRestriction: 'false', allowedClients: JSON.stringify([]),
    dailyCostLimit: '0', totalCostLimit: '0', weeklyOpusCostLimit: '0', tags: JSON.stringify(['imported']),
    activationDays: '0', activationUnit: 'days', expirationMode: 'fixed', isActivated: 'true',
    activatedAt: iso(now), createdAt: iso(now), lastUsedAt: '', expiresAt: '', createdBy: 'admin', userId: '',
    userUsername: '', icon: '', serviceRates: '{}', weeklyResetDay: '1', weeklyResetHour: '0', ...extra
  }
  hset(`apikey:${id}`, data)
  cmd('EXPIRE', `apikey:${id}`, 86400 * 365)
  cmd('HSET', 'apikey:hash_map', data.apiKey, id)
  out.keys.push({ id, name, plaintext, ...extra })
  return id
}

const bound = apiKey('bound-to-console', { claudeConsoleAccountId: consoleId, concurrencyLimit: '2',
                                           dailyCostLimit: '5', totalCostLimit: '30.299999999999997' })
apiKey('grouped', { claudeAccountId: `group:${groupId}`, permissions: JSON.stringify(['claude']) })
apiKey('soft-deleted', { isDeleted: 'true', isActive: 'false' })
// A counter that is not a number: read as 0 it would forget usage, so the key is refused.
const garbled = apiKey('garbled-usage', {})
hset(`usage:${garbled}`, { totalRequests: '7', totalInputTokens: 'NaN' })

// Usage of the bound key: totals, one model's all-time bucket, today's buckets, the cost.
const model = 'claude-sonnet-4-5-20250929'
const used = { requests: 3, input: 1200, output: 345, cacheCreate: 100, cacheRead: 50 }
hset(`usage:${bound}`, {
  totalTokens: used.input + used.output, totalInputTokens: used.input, totalOutputTokens: used.output,
  totalCacheCreateTokens: used.cacheCreate, totalCacheReadTokens: used.cacheRead,
  totalAllTokens: used.input + used.output + used.cacheCreate + used.cacheRead, totalRequests: used.requests
})
hset(`usage:${bound}:model:alltime:${model}`, {
  inputTokens: used.input, outputTokens: used.output, cacheCreateTokens: used.cacheCreate,
  cacheReadTokens: used.cacheRead, requests: used.requests, realCostMicro: 9000, ratedCostMicro: 12345
})
hset(`usage:daily:${bound}:${day(now)}`, {
  tokens: used.input + used.output, inputTokens: used.input, outputTokens: used.output,
  cacheCreateTokens: used.cacheCreate, cacheReadTokens: used.cacheRead,
  allTokens: used.input + used.output + used.cacheCreate + used.cacheRead, requests: used.requests
})
cmd('SET', `usage:cost:total:${bound}`, '0.012345')
cmd('SET', `usage:cost:daily:${bound}:${day(now)}`, '0.012345')
out.usage = { key: bound, model, ...used, costMicro: 12345, day: day(now) }

// The Console account's usage, and the OAuth account's v1.1.0 load-balancer samples (a zset).
hset(`account_usage:${consoleId}`, {
  totalInputTokens: used.input, totalOutputTokens: used.output, totalCacheCreateTokens: used.cacheCreate,
  totalCacheReadTokens: used.cacheRead, totalRequests: used.requests
})
hset(`account_usage:daily:${consoleId}:${day(now)}`, {
  inputTokens: used.input, outputTokens: used.output, cacheCreateTokens: used.cacheCreate,
  cacheReadTokens: used.cacheRead, requests: used.requests
})
cmd('EXPIRE', `account_usage:daily:${consoleId}:${day(now)}`, 86400 * 32)
cmd('ZADD', `account_usage:${oauthId}`, String(now.getTime()), JSON.stringify({ ms: 812, ok: true }))

// Its admin login: a bcrypt hash (bcryptjs writes $2a$) of a known password.
hset('session:admin_credentials', {
  username: 'crs_node_admin', passwordHash: '$2a$10$om.0K39rSe/BXrsvyPfDqeery3PR36kwJMog3RQwWIkETUJbEjDGC',
  createdAt: iso(now), lastLogin: '', updatedAt: iso(now)
})
out.admin = { username: 'crs_node_admin', password: 'crs-admin-pass-01' }

// ---- send ----
const socket = net.createConnection({ host: '127.0.0.1', port: Number(args.port) })
let pending = commands.length + (args.password ? 1 : 0)
let buffered = ''
socket.on('data', (chunk) => {
  buffered += chunk.toString('binary')
  const lines = buffered.split('\r\n')
  buffered = lines.pop()
  for (const line of lines) {
    if (line.startsWith('-')) {
      console.error(`redis: ${line}`)
      process.exit(1)
    }
    if (/^[+:]/.test(line)) pending -= 1
  }
  if (pending === 0) {
    socket.end()
    console.log(JSON.stringify(out))
  }
})
socket.on('error', (e) => {
  console.error(e.message)
  process.exit(1)
})
if (args.password) socket.write(resp(['AUTH', args.password]))
for (const c of commands) socket.write(resp(c))
