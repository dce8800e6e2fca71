import type { Agent, RiskTier, ToolCall } from '@keel/contracts';

/**
 * Least privilege against the task's intent: a task that only asks to read
 * (summarise, look up, explain …) has no business making a call that writes
 * or destroys, whatever a tool output told the model. The classifier is a
 * conservative keyword rule: `read_only` only when the input has read verbs
 * and no action verbs; anything else is `act` (no restriction from intent).
 */
export type TaskIntent = 'read_only' | 'act';
export type CallEffect = 'read' | 'write' | 'destructive';

// Whole words in Latin scripts; substrings for CJK. Lower-cased input.
const READ_WORDS = [
  // en
  'summarise', 'summarize', 'summary', 'what', 'which', 'who', 'when', 'where', 'why', 'how', 'explain', 'describe', 'tell me', 'look up', 'lookup', 'find',
  'search', 'list', 'show', 'read', 'check', 'compare', 'translate', 'calculate', 'compute', 'analyse', 'analyze', 'review', 'get', 'fetch', 'extract', 'count',
  // es / de / fr / ru
  'resume', 'resumir', 'resumen', 'qué', 'cuál', 'explica', 'busca', 'muestra', 'lee', 'zusammenfassen', 'fasse', 'was', 'welche', 'erkläre', 'suche', 'zeige', 'lies',
  'résume', 'résumer', 'quel', 'quelle', 'explique', 'cherche', 'montre', 'lis', 'что', 'какой', 'объясни', 'найди', 'покажи', 'прочитай', 'кратко',
];
const READ_CJK = ['总结', '摘要', '概括', '什么', '哪', '解释', '查询', '查找', '显示', '阅读', '翻译', '要約', '何', '説明', '検索', '表示', '読'];
const ACT_WORDS = [
  // en
  'send', 'email', 'e-mail', 'mail', 'post', 'publish', 'delete', 'remove', 'erase', 'drop', 'create', 'update', 'change', 'modify', 'edit', 'write', 'save', 'upload',
  'pay', 'transfer', 'buy', 'purchase', 'order', 'book', 'reserve', 'cancel', 'submit', 'deploy', 'run', 'execute', 'install', 'reply', 'forward', 'invite',
  'schedule', 'approve', 'grant', 'revoke', 'reset', 'move', 'rename', 'refund', 'charge', 'sign', 'register', 'subscribe', 'unsubscribe', 'call',
  // es / de / fr / ru
  'envía', 'enviar', 'borra', 'borrar', 'elimina', 'eliminar', 'crea', 'crear', 'paga', 'pagar', 'compra', 'comprar', 'sende', 'senden', 'lösche', 'löschen',
  'erstelle', 'bezahle', 'kaufe', 'überweise', 'envoie', 'envoyer', 'supprime', 'supprimer', 'crée', 'créer', 'paie', 'payer', 'achète', 'отправь', 'удали',
  'создай', 'оплати', 'купи', 'переведи',
];
const ACT_CJK = ['发送', '发邮件', '删除', '创建', '修改', '支付', '付款', '转账', '购买', '预订', '提交', '送信', '削除', '作成', '変更', '支払', '購入', '予約'];

const wordRegex = (words: readonly string[]) =>
  new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![\\p{L}\\p{N}])`, 'u');
const READ_RE = wordRegex(READ_WORDS);
const ACT_RE = wordRegex(ACT_WORDS);

export function classifyIntent(input: string): TaskIntent {
  const text = input.toLowerCase();
  const acts = ACT_RE.test(text) || ACT_CJK.some((w) => text.includes(w));
  if (acts) return 'act';
  const reads = READ_RE.test(text) || READ_CJK.some((w) => text.includes(w)) || /\?\s*$/.test(text);
  return reads ? 'read_only' : 'act';
}

const READ_ONLY_HTTP = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * What the tool registry (`keel.v1.tools.describe`) declares about a tool: its permission and
 * its own risk tier. Used for tools this library has no built-in profile for (HTTP tools
 * declared in agent files, tools imported from MCP servers).
 */
export interface ToolProfile {
  permission?: CallEffect;
  risk?: RiskTier;
}

/** The built-in effect of a tool this library knows, or undefined. */
function builtInEffect(call: Pick<ToolCall, 'name' | 'arguments'>): CallEffect | undefined {
  switch (call.name) {
    case 'calculator':
    case 'noop':
    case 'run_code': // sandboxed: no network, no host files; it computes
      return 'read';
    case 'http_request': {
      const method = typeof call.arguments.method === 'string' ? call.arguments.method.toUpperCase() : 'GET';
      if (READ_ONLY_HTTP.has(method)) return 'read';
      return method === 'DELETE' ? 'destructive' : 'write';
    }
    default:
      return undefined;
  }
}

/**
 * What a call does to the world: the agent's `effect` (or `permission`) for the tool, else the
 * built-in one, else the permission the tool registry declares (`spec`); unknown tools write.
 */
export function effectOf(agent: Pick<Agent, 'tools'>, call: Pick<ToolCall, 'name' | 'arguments'>, spec?: ToolProfile): CallEffect {
  const entry = agent.tools.find((t) => t.name === call.name);
  const declared = entry?.effect ?? entry?.permission;
  if (declared) return declared;
  return builtInEffect(call) ?? spec?.permission ?? 'write';
}
