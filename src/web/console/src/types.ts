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
