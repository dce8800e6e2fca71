import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { KeelError, retryable } from '@keel/contracts';
import type { ListedMcpTool, McpCallResult } from './mcp.tools';
import type { McpServerConfig } from './mcp.config';

export type McpServerState = 'connecting' | 'up' | 'down' | 'closed';

export interface McpServerStatus {
  name: string;
  transport: 'stdio' | 'http';
  state: McpServerState;
  /** Tools the server listed last time it was reached. */
  tools: number;
  /** Failed connection attempts since it was last up. */
  failures: number;
  lastError?: string;
  /** When the state last changed (ISO 8601). */
  since: string;
}

export interface McpConnectionOptions {
  /** Time limit of the handshake and the first listing. */
  connectTimeoutMs: number;
  /** Reconnect delays: doubling from `minMs` up to `maxMs`, with jitter. */
  backoff: { minMs: number; maxMs: number };
  /** An `up` server is pinged this often; a failed ping reconnects it (0: never). */
  pingIntervalMs: number;
  onTools(server: string, tools: ListedMcpTool[]): void;
  onState?(server: string, status: McpServerStatus): void;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

const CLIENT_INFO = { name: 'keel-tool-executor', version: '0.1.0' };

/**
 * One MCP server: connects, lists its tools, calls them; on a lost connection (or a failed
 * ping) it reconnects with backoff, forever, until closed. A call while the server is down
 * fails at once with a retryable `unavailable`, which the degradation ladder can answer.
 */
export class McpConnection {
  private client?: Client;
  private state: McpServerState = 'connecting';
  private since = new Date();
  private failures = 0;
  private lastError?: string;
  private toolCount = 0;
  private retryTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private connecting?: Promise<void>;
  private closed = false;

  constructor(readonly config: McpServerConfig, private readonly opts: McpConnectionOptions) {}

  get name(): string {
    return this.config.name;
  }

  status(): McpServerStatus {
    return {
      name: this.config.name, transport: this.config.transport, state: this.state, tools: this.toolCount, failures: this.failures,
      ...(this.lastError ? { lastError: this.lastError } : {}), since: this.since.toISOString(),
    };
  }

  /** Starts connecting; resolves when the first attempt has succeeded or failed (later ones run in the background). */
  start(): Promise<void> {
    return this.connect();
  }

  private connect(): Promise<void> {
    this.connecting ??= this.attempt().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private transport(): Transport {
    const c = this.config;
    if (c.transport === 'stdio') {
      const t = new StdioClientTransport({ command: c.command, args: c.args, env: c.env, cwd: c.cwd, stderr: 'pipe' });
      t.stderr?.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8').trim();
        if (text) this.opts.log.info({ mcp_server: c.name, stderr: text.slice(0, 2_000) }, 'MCP server stderr');
      });
      return t;
    }
    return new StreamableHTTPClientTransport(new URL(c.url), { requestInit: { headers: c.headers ?? {} } });
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    this.setState('connecting');
    const client = new Client(CLIENT_INFO, {
      listChanged: {
        tools: {
          onChanged: (err, tools) => {
            if (err || !tools || this.client !== client) return;
            this.toolCount = tools.length;
            this.opts.onTools(this.name, tools);
          },
        },
      },
    });
    client.onclose = () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.lost('the connection closed');
    };
    client.onerror = (err) => this.opts.log.warn({ mcp_server: this.name, err: err.message }, 'MCP transport error');
    try {
      await client.connect(this.transport(), { timeout: this.opts.connectTimeoutMs });
      const tools = await listAll(client, this.opts.connectTimeoutMs);
      if (this.closed) {
        await client.close();
        return;
      }
      this.client = client;
      this.failures = 0;
      this.lastError = undefined;
      this.toolCount = tools.length;
      this.setState('up');
      this.opts.log.info({ mcp_server: this.name, tools: tools.map((t) => t.name) }, 'MCP server connected');
      this.opts.onTools(this.name, tools);
      this.schedulePing();
    } catch (err) {
      await client.close().catch(() => undefined);
      this.failures++;
      this.lost(`cannot connect: ${messageOf(err)}`);
    }
  }

  /** Down: remember why and try again later. */
  private lost(reason: string): void {
    clearTimeout(this.pingTimer);
    if (this.closed) return;
    this.lastError = reason;
    this.setState('down');
    const base = Math.min(this.opts.backoff.maxMs, this.opts.backoff.minMs * 2 ** Math.min(this.failures, 20));
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.opts.log.warn({ mcp_server: this.name, reason, retry_in_ms: delay, failures: this.failures }, 'MCP server down; reconnecting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  private schedulePing(): void {
    if (this.opts.pingIntervalMs <= 0) return;
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      const client = this.client;
      if (!client) return;
      client.ping({ timeout: this.opts.connectTimeoutMs }).then(() => this.schedulePing(), (err: unknown) => void this.drop(client, `ping failed: ${messageOf(err)}`));
    }, this.opts.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** Closes a client that stopped answering; its onclose (or this) schedules the reconnect. */
  private async drop(client: Client, reason: string): Promise<void> {
    if (this.client !== client) return;
    this.client = undefined;
    this.failures++;
    await client.close().catch(() => undefined);
    this.lost(reason);
  }

  private setState(state: McpServerState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = new Date();
    this.opts.onState?.(this.name, this.status());
  }

  async callTool(tool: string, args: Record<string, unknown>, opts: { timeoutMs: number; signal: AbortSignal }): Promise<McpCallResult> {
    const client = this.client;
    if (!client) {
      throw retryable('unavailable', `MCP server "${this.name}" is not connected${this.lastError ? ` (${this.lastError})` : ''}; Keel is reconnecting`);
    }
    try {
      return await client.callTool({ name: tool, arguments: args }, undefined, { timeout: opts.timeoutMs, signal: opts.signal });
    } catch (err) {
      const mapped = mapMcpError(this.name, tool, err, opts.timeoutMs);
      // A transport failure (HTTP server gone, pipe broken): reconnect rather than wait for the next ping.
      if (mapped.code === 'unavailable') void this.drop(client, mapped.message);
      throw mapped;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    this.setState('closed');
    await this.connecting?.catch(() => undefined);
    await client?.close().catch(() => undefined);
  }
}

async function listAll(client: Client, timeoutMs: number): Promise<ListedMcpTool[]> {
  const tools: ListedMcpTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    tools.push(...res.tools);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error && !err.message.includes(cause.message) ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

/** An error from `tools/call` as the tool error the model sees. */
export function mapMcpError(server: string, tool: string, err: unknown, timeoutMs: number): KeelError {
  if (err instanceof KeelError) return err;
  if (err instanceof McpError) {
    switch (err.code) {
      case ErrorCode.RequestTimeout:
        return new KeelError('timeout', `${tool} (MCP server ${server}) did not answer within ${timeoutMs} ms`);
      case ErrorCode.ConnectionClosed:
        return retryable('unavailable', `MCP server "${server}" closed the connection during ${tool}`);
      case ErrorCode.InvalidParams:
        return new KeelError('validation_failed', `MCP server "${server}" refused the arguments of ${tool}: ${err.message}`);
      default:
        return new KeelError('tool_error', `MCP server "${server}" failed ${tool}: ${err.message}`);
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return new KeelError('timeout', `${tool} (MCP server ${server}) was cancelled`);
  return retryable('unavailable', `MCP server "${server}" could not be reached for ${tool}: ${messageOf(err)}`);
}
