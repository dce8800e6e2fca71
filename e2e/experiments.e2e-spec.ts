import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { TERMINAL_STATUSES } from '@keel/contracts';
import type { TaskView } from '@keel/contracts';
import { insertApiKey, keelClient, startKeel } from '@keel/testing';
import type { KeelStack } from '@keel/testing';
import { parseDataset } from '../tools/cli/src/eval/dataset';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'tools/cli/dist/main.js');
/** The scripted model's `echo` answers with the whole prompt: the output shows which system prompt the variant used. */
const ECHO = { script: [{ reply: 'echo' }] };
const FAIL = { script: [{ fault: { status: 400 } }] };
const PROMPTS: Record<string, string> = { control: 'Marker CONTROLPROMPT: answer precisely.', warm: 'Marker WARMPROMPT: answer warmly.' };
const EXPERIMENT = { name: 'tone', variants: [{ name: 'control' }, { name: 'warm' }] };

/** `GET /v1/experiments/{agent}` (apps/orchestrator/src/experiments/experiments.service.ts), the parts read here. */
interface ExperimentResults {
  agent: string;
  experiment: string;
  declared: boolean;
  baseline: string;
  variants: {
    name: string; tasks: number; succeeded: number; failed: number; successRate: number | null;
    latencyMs: { mean: number | null; p50: number | null; p95: number | null }; meanCostUsd: number | null;
    feedback: { count: number; meanScore: number | null };
    comparison: { against: string; status: string; z: number | null; pValue: number | null } | null;
  }[];
}

/**
 * A/B experiments end to end: an agent with two variants (different system
 * prompts) on the scripted model; tasks of 40 users, twice each, land on the
 * same variant every time and run that variant's prompt; per-variant results
 * come with a significance test; thumbs-down feedback becomes eval dataset
 * candidates through `keel feedback-candidates`.
 */
describe('A/B experiments end to end (five processes)', () => {
  let keel: KeelStack;
  let db: Client;
  let otherTenantKey: string;
  let viewerKey: string;
  const users = Array.from({ length: 40 }, (_, i) => `ab-user-${i}`);
  /** Each user's variant, as the first round assigned it. */
  const expected = new Map<string, string>();

  const { submit: submitTask, waitStatus } = keelClient(() => keel);
  const call = <T = Record<string, unknown>>(path: string, init?: RequestInit, apiKey?: string) => keelClient(keel, { apiKey }).call<T>(path, init);
  const submit = (body: Record<string, unknown>) => submitTask({ agent: 'abtest', ...body });
  // Up to 16 tasks are waited on at once: a slower poll than the default.
  const finished = (id: string) => waitStatus(id, TERMINAL_STATUSES, 60_000, 100);
  /** Submits all, at most `width` at a time, and waits for each to finish. */
  const runAll = async (bodies: Record<string, unknown>[], width = 16): Promise<TaskView[]> => {
    const out: TaskView[] = [];
    for (let i = 0; i < bodies.length; i += width) {
      const ids = await Promise.all(bodies.slice(i, i + width).map(submit));
      out.push(...(await Promise.all(ids.map(finished))));
    }
    return out;
  };
  const cli = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', KEEL_URL: keel.url('orchestrator'), KEEL_API_KEY: keel.apiKey, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-experiments-e2e-'));
    const agents = join(dir, 'agents');
    mkdirSync(agents);
    writeFileSync(join(agents, 'abtest.yaml'), [
      'name: abtest',
      'model: scripted/default',
      'systemPrompt: Marker BASEPROMPT.',
      'experiment:',
      '  name: tone',
      '  variants:',
      `    - {name: control, systemPrompt: "${PROMPTS.control}"}`,
      `    - {name: warm, systemPrompt: "${PROMPTS.warm}"}`,
      '',
    ].join('\n'));
    keel = await startKeel({ agentsDir: agents, env: { KEEL_ANOMALY_MIN_TOKENS_PER_MIN: '100000000' } });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    otherTenantKey = (await insertApiKey(db, 'other', 'admin')).key;
    viewerKey = (await insertApiKey(db, 'default', 'viewer')).key;
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
  });

  let firstRound: TaskView[] = [];
  let secondRound: TaskView[] = [];

  it('assigns each user one variant on every task, and the task runs that variant\'s system prompt', async () => {
    firstRound = await runAll(users.map((userId) => ({ userId, input: `Please suggest a good book about gardening (request 1 of ${userId}).`, metadata: ECHO })));
    for (const [i, userId] of users.entries()) expected.set(userId, firstRound[i].variant ?? 'none');
    // The split is a pure function of (tenant, agent, experiment, user): both variants get a fair share of 40 users.
    const perVariant = [...expected.values()].reduce<Record<string, number>>((n, v) => ({ ...n, [v]: (n[v] ?? 0) + 1 }), {});
    expect(Object.keys(perVariant).sort()).toEqual(EXPERIMENT.variants.map((v) => v.name));
    expect(Math.min(perVariant.control, perVariant.warm)).toBeGreaterThanOrEqual(12);

    secondRound = await runAll(users.map((userId) => ({ userId, input: `Please suggest a good book about gardening (request 2 of ${userId}).`, metadata: ECHO })));
    for (const [i, userId] of users.entries()) {
      for (const t of [firstRound[i], secondRound[i]]) {
        const variant = expected.get(userId)!;
        expect({ userId, status: t.status, error: t.error, experiment: t.experiment, variant: t.variant }).toEqual({ userId, status: 'succeeded', error: null, experiment: 'tone', variant });
        const other = variant === 'control' ? 'warm' : 'control';
        expect(t.output).toContain(PROMPTS[variant].split(':')[0]);
        expect(t.output).not.toContain(PROMPTS[other].split(':')[0]);
        expect(t.output).not.toContain('BASEPROMPT');
      }
    }
    // The assignment is in the task.submitted event too.
    const { rows } = await db.query<{ data: Record<string, unknown> }>(`SELECT data FROM orchestrator.task_events WHERE task_id = $1 AND type = 'task.submitted'`, [firstRound[0].id]);
    expect(rows[0].data).toMatchObject({ experiment: 'tone', variant: expected.get(users[0]), assignment: 'user' });
  }, 240_000);

  it('assigns a task without a userId by its task id, and records that', async () => {
    const [t] = await runAll([{ input: 'anonymous question', metadata: ECHO }]);
    expect(t.status).toBe('succeeded');
    expect(['control', 'warm']).toContain(t.variant);
    expect(t.output).toContain(PROMPTS[t.variant!].split(':')[0]);
    const { rows } = await db.query<{ assignment: string }>('SELECT assignment FROM orchestrator.tasks WHERE id = $1', [t.id]);
    expect(rows[0].assignment).toBe('task');
  }, 60_000);

  it('reports per-variant counts, latency, cost and feedback with a significance test; own tenant only', async () => {
    // Some failures (a 400 from the model is not retried) so both rates are estimable.
    const failing = users.filter((_, i) => i % 3 === 0);
    const failed = await runAll(failing.map((userId) => ({ userId, input: `Please suggest a good book about cooking (request 3 of ${userId}).`, metadata: FAIL })));
    expect(failed.every((t) => t.status === 'failed')).toBe(true);
    // Feedback: thumbs-down with a comment on 5 tasks, thumbs-up on 5.
    for (const t of firstRound.slice(0, 5)) {
      expect((await call(`/v1/tasks/${t.id}/feedback`, { method: 'POST', body: JSON.stringify({ score: -1, comment: `too vague for ${t.id.slice(0, 8)}` }) })).status).toBe(204);
    }
    for (const t of secondRound.slice(5, 10)) {
      expect((await call(`/v1/tasks/${t.id}/feedback`, { method: 'POST', body: JSON.stringify({ score: 1 }) })).status).toBe(204);
    }

    const { status, body } = await call<ExperimentResults>('/v1/experiments/abtest', {}, viewerKey);
    expect(status).toBe(200);
    expect(body).toMatchObject({ agent: 'abtest', experiment: 'tone', declared: true, baseline: 'control' });
    expect(body.variants.map((v) => v.name)).toEqual(['control', 'warm']);
    const all = [...firstRound, ...secondRound, ...failed];
    for (const v of body.variants) {
      const mine = all.filter((t) => t.variant === v.name);
      expect(v.tasks).toBeGreaterThanOrEqual(mine.length); // + the anonymous task
      expect(v.failed).toBe(mine.filter((t) => t.status === 'failed').length);
      expect(v.succeeded + v.failed).toBe(v.tasks);
      expect(v.latencyMs.p50).toEqual(expect.any(Number));
      expect(v.latencyMs.p95!).toBeGreaterThanOrEqual(v.latencyMs.p50!);
      expect(v.meanCostUsd).toEqual(expect.any(Number));
    }
    expect(body.variants.reduce((s, v) => s + v.tasks, 0)).toBe(all.length + 1);
    expect(body.variants.reduce((s, v) => s + v.feedback.count, 0)).toBe(10);
    const scored = body.variants.filter((v) => v.feedback.count > 0);
    expect(scored.every((v) => v.feedback.meanScore! >= -1 && v.feedback.meanScore! <= 1)).toBe(true);
    const warm = body.variants[1];
    expect(warm.comparison).toMatchObject({ against: 'control', status: 'ok', z: expect.any(Number), pValue: expect.any(Number) });
    expect(warm.comparison!.pValue!).toBeGreaterThan(0);
    expect(warm.comparison!.pValue!).toBeLessThanOrEqual(1);

    // Another tenant sees the experiment, with none of this tenant's tasks.
    const other = await call<ExperimentResults>('/v1/experiments/abtest', {}, otherTenantKey);
    expect(other.status).toBe(200);
    expect(other.body.variants.map((v) => v.tasks)).toEqual([0, 0]);
    expect(other.body.variants[1].comparison).toMatchObject({ status: 'not_enough_data' });
    expect((await call('/v1/experiments/no-such-agent')).status).toBe(404);
    expect((await call('/v1/experiments/abtest?since=yesterday')).status).toBe(400);

    const metrics = await (await fetch(`${keel.url('orchestrator')}/metrics`)).text();
    expect(metrics).toMatch(/keel_experiment_tasks_total\{[^}]*experiment="tone"[^}]*variant="warm"[^}]*status="succeeded"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/keel_experiment_tasks_total\{[^}]*variant="control"[^}]*status="failed"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/keel_feedback_total\{[^}]*score="negative"[^}]*agent="abtest"[^}]*\} 5|keel_feedback_total\{[^}]*agent="abtest"[^}]*score="negative"[^}]*\} 5/);
  }, 240_000);

  it('`keel feedback-candidates` turns the thumbs-down tasks into valid eval cases', async () => {
    const listed = await call<{ items: { taskId: string; comment: string; input: string; output: string }[] }>('/v1/feedback?score=-1&agent=abtest', {}, viewerKey);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i) => i.taskId).sort()).toEqual(firstRound.slice(0, 5).map((t) => t.id).sort());
    expect(listed.body.items[0].output).toEqual(expect.any(String));
    expect((await call<{ items: unknown[] }>('/v1/feedback?score=-1', {}, otherTenantKey)).body.items).toEqual([]);

    const out = join(mkdtempSync(join(tmpdir(), 'keel-candidates-')), 'candidates.jsonl');
    const r = await cli(['feedback-candidates', '--agent', 'abtest', '--since', new Date(Date.now() - 3_600_000).toISOString(), '--out', out]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('5 candidate cases') });
    const { cases, issues } = parseDataset(out, readFileSync(out, 'utf8'));
    expect(issues).toEqual([]);
    expect(cases).toHaveLength(5);
    for (const t of firstRound.slice(0, 5)) {
      const c = cases.find((x) => x.id === `feedback-${t.id}`)!;
      expect(c).toMatchObject({ input: t.input, agent: 'abtest', userId: users[firstRound.indexOf(t)], tags: ['feedback', 'needs-review'] });
      expect(c.expected?.criteria).toContain(`too vague for ${t.id.slice(0, 8)}`);
      expect(c.expected?.output).toBeUndefined();
    }
    // To stdout without --out; a bad option is a usage error.
    const stdout = await cli(['feedback-candidates', '--agent', 'abtest', '--limit', '2']);
    expect(stdout.code).toBe(0);
    expect(parseDataset('stdout.jsonl', stdout.stdout).cases).toHaveLength(2);
    expect((await cli(['feedback-candidates', '--since', 'last week'])).code).toBe(2);
  }, 60_000);
});
