// The shapes of the admin API's answers that the pages read (docs/admin-api.md).

export interface Totals {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  allTokens: number;
  cost: number;
  formattedCost?: string;
}

export interface TrendPoint extends Omit<Totals, 'allTokens'> {
  date?: string;
  hour?: string;
  label: string;
  totalTokens: number;
}

export interface AccountGlance {
  id: string;
  name: string;
  type: string;
  status: string;
  schedulable: boolean;
  inFlight: number | null;
  maxConcurrency: number;
  utilization5h: number | null;
  utilization7d: number | null;
  health: string;
  circuit: string;
  condition: string;
}

export interface Dashboard {
  overview: {
    totalApiKeys: number;
    activeApiKeys: number;
    totalAccounts: number;
    normalAccounts: number;
    abnormalAccounts: number;
    pausedAccounts: number;
    rateLimitedAccounts: number;
    totalRequestsUsed: number;
    totalAllTokensUsed: number;
    totalCost: number;
  };
  recentActivity: {
    apiKeysCreatedToday: number;
    requestsToday: number;
    allTokensToday: number;
    inputTokensToday: number;
    outputTokensToday: number;
    costToday: number;
  };
  realtimeMetrics: { rpm: number; tpm: number; windowMinutes: number };
  systemHealth: { redisConnected: boolean; uptime: number };
  inFlight: number;
  errors: { total: number; byClass: Record<string, number> };
  loadBalancing: { enabled: boolean; global: string };
  accounts: AccountGlance[];
}

export interface ApiKey {
  id: string;
  name: string;
  description: string;
  tags: string[];
  isActive: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  expirationMode: 'fixed' | 'activation';
  expiresAt: string | null;
  activationDays: number;
  isActivated: boolean;
  activatedAt: string | null;
  concurrencyLimit: number;
  rateLimitWindow: number;
  rateLimitRequests: number;
  rateLimitCost: number;
  totalTokenLimit: number;
  dailyCostLimit: number;
  weeklyCostLimit: number;
  totalCostLimit: number;
  weeklyResetDay: number;
  weeklyResetHour: number;
  permissions: string[];
  allowedModels: string[];
  restrictedModels: string[];
  allowedClients: string[];
  claudeAccountId: string | null;
  usage?: { total: Totals };
  apiKey?: string; // only in the answer that creates or renews it
}

export interface KeyPage {
  items: ApiKey[];
  pagination: { page: number; pageSize: number; total: number; totalPages: number };
  availableTags: string[];
}

export interface ExportTask {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  format: string;
  progress: { scanned: number; total: number; rows: number; percent: number };
  createdAt: string;
  finishedAt: string | null;
  size: number;
  error: string | null;
  download?: string;
}

export interface Health {
  class: string;
  reasons: string;
  circuit: { state: string; failures: number; nextTryAt: string | null };
  window: { successRate: number; errorRate: number; ttfbP95Ms: number };
  totals: Record<string, number>;
  lastSuccessAt: string | null;
  lastError: { at?: string; class?: string; status?: number; message?: string } | string | null;
}

export interface Account {
  id: string;
  name: string;
  type: 'claude-console' | 'claude-oauth' | 'bedrock' | 'openai-compatible' | string;
  baseUrl: string;
  region?: string | null;
  proxy: string | null;
  priority: number;
  enabled: boolean;
  status: string;
  statusReason: string;
  unavailableUntil: number;
  createdAt: string;
  lastUsedAt: string | null;
  credentials: Record<string, string | number>;
  maxConcurrency: number;
  weight: number;
  costFactor: number;
  plan: string | number | null;
  schedulable: boolean;
  models: string[];
  modelMapping: Record<string, string>;
  health?: Health;
  groups?: string[];
}

export interface BalancedAccount {
  id: string;
  name: string;
  type: string;
  status: string;
  usable: boolean;
  priority: number;
  inFlight: number | null;
  maxConcurrency: number;
  weight: number;
  costFactor: number;
  windowTokens: number;
  utilization5h: number | null;
  utilization7d: number | null;
  paused: boolean;
  stickySessions: number;
  ttfbMs: number | null;
  successRate: number | null;
  rank: number | null;
  score: { total: number; cost: number; performance: number; load: number; reliability: number } | null;
  health: Health;
}

export interface BalancerStatus {
  strategy: { enabled: boolean; global: string; setAtRuntime: boolean; configured: string; groups: Record<string, string> };
  accounts: BalancedAccount[];
}

export interface Group {
  id: string;
  name: string;
  description?: string;
  accounts?: string[];
}

export interface UsageReport {
  from: string; // the range as the relay read it (its days: usage.timezoneOffset)
  to: string;
  range: Totals;
  allTime: Totals;
  buckets: (Totals & { period: string })[];
  models?: (Totals & { model: string })[];
}
