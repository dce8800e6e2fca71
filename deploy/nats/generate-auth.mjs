#!/usr/bin/env node
// Writes the NATS users and permissions (libs/messaging/src/permissions.ts) into the
// `auth.conf` key of the nats-config ConfigMap in deploy/k8s/base/nats.yaml.
//   node tools/build-quiet.mjs && node deploy/nats/generate-auth.mjs [--check]
// --check exits 1 when the committed file differs (a unit test checks the same).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const FILE = join(HERE, '../k8s/base/nats.yaml');
const { natsAuthorizationConfig } = createRequire(import.meta.url)(join(HERE, '../../libs/messaging/dist/index.js'));

const START = '  auth.conf: |\n';
const END = '  # end of generated auth.conf\n';
const text = readFileSync(FILE, 'utf8');
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a < 0 || b < a) {
  console.error(`${FILE}: no generated auth.conf block (expected "${START.trim()}" … "${END.trim()}")`);
  process.exit(2);
}
const block = natsAuthorizationConfig().split('\n').filter((l) => l !== '').map((l) => `    ${l}`).join('\n');
const next = `${text.slice(0, a)}${START}${block}\n${text.slice(b)}`;
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error(`${FILE} is out of date: run node deploy/nats/generate-auth.mjs`);
    process.exit(1);
  }
  console.log('nats auth.conf is up to date');
} else {
  writeFileSync(FILE, next);
  console.log(`wrote the auth.conf block of ${FILE}`);
}
