#!/usr/bin/env node
// A small MCP server for tests: an order desk with a read tool and a destructive one.
//
//   node mcp-fixture-server.mjs            stdio transport (how the tool-executor usually spawns it)
//   node mcp-fixture-server.mjs --http 0   streamable HTTP on 127.0.0.1:<port> (0: any free port),
//                                          printing "listening <url>" on stdout when ready
//
// Every tool call is appended, as one JSON line {tool, arguments, at}, to the file named by
// MCP_FIXTURE_LOG (when set), so a test can check what ran and what did not.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const LOG = process.env.MCP_FIXTURE_LOG;
const orders = new Map([[42, { orderId: 42, status: 'shipped', items: 3 }], [7, { orderId: 7, status: 'processing', items: 1 }]]);

function record(tool, args) {
  if (LOG) appendFileSync(LOG, `${JSON.stringify({ tool, arguments: args, at: new Date().toISOString(), pid: process.pid })}\n`);
}

function build() {
  const server = new McpServer({ name: 'keel-order-fixture', version: '1.0.0' });
  server.registerTool('lookup_order', {
    description: 'Looks up an order by its number and returns its status.',
    inputSchema: { orderId: z.number().int().positive().describe('The order number') },
    outputSchema: { orderId: z.number(), status: z.string(), items: z.number() },
    annotations: { readOnlyHint: true },
  }, async ({ orderId }) => {
    record('lookup_order', { orderId });
    const order = orders.get(orderId);
    if (!order) return { isError: true, content: [{ type: 'text', text: `order ${orderId} does not exist` }] };
    return { content: [{ type: 'text', text: JSON.stringify(order) }], structuredContent: order };
  });
  server.registerTool('delete_order', {
    description: 'Deletes an order for good.',
    inputSchema: { orderId: z.number().int().positive(), reason: z.string().optional() },
    annotations: { destructiveHint: true },
  }, async ({ orderId, reason }) => {
    record('delete_order', { orderId, reason });
    const existed = orders.delete(orderId);
    return { content: [{ type: 'text', text: existed ? `order ${orderId} deleted` : `order ${orderId} was not there` }] };
  });
  server.registerTool('order.notes', {
    description: 'Plain text notes about an order (a tool name MCP allows but OpenAI function names do not).',
    inputSchema: { orderId: z.number().int() },
  }, async ({ orderId }) => {
    record('order.notes', { orderId });
    return { content: [{ type: 'text', text: `notes for ${orderId}:` }, { type: 'text', text: 'fragile' }, { type: 'image', data: 'AAAA', mimeType: 'image/png' }] };
  });
  server.registerTool('slow_lookup', {
    description: 'Answers after `ms` milliseconds.',
    inputSchema: { ms: z.number().int().nonnegative() },
  }, async ({ ms }) => {
    record('slow_lookup', { ms });
    await new Promise((r) => setTimeout(r, ms));
    return { content: [{ type: 'text', text: `waited ${ms} ms` }] };
  });
  return server;
}

const httpAt = process.argv.indexOf('--http');
if (httpAt >= 0) {
  const port = Number(process.argv[httpAt + 1] ?? 0);
  // Stateless: a fresh server and transport per request.
  const http = createServer(async (req, res) => {
    if (req.url !== '/mcp') return res.writeHead(404).end();
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const server = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  http.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${http.address().port}/mcp\n`);
  });
} else {
  await build().connect(new StdioServerTransport());
}
