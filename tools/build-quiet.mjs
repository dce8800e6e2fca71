// Builds every project (nx, cached) and stays quiet unless something fails, so
// `npm start` opens on Keel's own output rather than a page of build lines.
import { spawnSync } from 'node:child_process';

const started = Date.now();
const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static'], { encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
if (r.status !== 0) {
  process.stderr.write(`${r.stdout}\n${r.stderr}\nbuild failed (exit ${r.status})\n`);
  process.exit(r.status ?? 1);
}
process.stdout.write(`built all projects in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
