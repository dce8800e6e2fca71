import { parseLauncherArgs, USAGE, UsageError } from './args';
import { bannerText } from './banner';
import { runDemo } from './demo';
import { Output } from './output';
import { waitUntilReady } from './readiness';
import { planReplicas, replicaEnv, SERVICES } from './services';
import type { Replica } from './services';
import { prepare, resolveStartup, StartupError } from './startup';
import { Supervisor } from './supervisor';

/** `npm start`: pre-flight, migrations, every service supervised, a ready banner and a demo task. */
async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseLauncherArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\nRun with --help for the options.\n`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const startup = resolveStartup();
  const replicas = planReplicas(opts);
  const out = new Output(opts.raw, Math.max(...replicas.map((r) => r.label.length), 'launcher'.length));

  out.setWidth(Math.max(...opts.only.map((s) => `${s}.migrate`.length), 'launcher'.length));
  try {
    await prepare(startup, opts.only, out);
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
  out.setWidth(Math.max(...replicas.map((r) => r.label.length), 'launcher'.length));

  const supervisor = new Supervisor({
    root: startup.root,
    replicas,
    out,
    env: (r: Replica) => replicaEnv(r, replicas, startup.env),
  });

  const lifetime = new AbortController();
  const stopped = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        out.info(`${sig}: shutting down`);
        lifetime.abort();
        supervisor.stop().then(resolve, resolve);
      } else {
        out.warn('second signal: killing everything now');
        supervisor.killNow();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  out.info(`starting ${replicas.map((r) => `${r.label}:${r.port}`).join(', ')}`);
  supervisor.start();

  const afterReady = async (): Promise<void> => {
    const ready = await waitUntilReady(replicas, {
      signal: lifetime.signal,
      onSlow: (pending) => {
        out.warn(`not ready after 60 s (still waiting):\n${pending.map((p) => `  ${p.replica.label} (port ${p.replica.port}): /readyz ${p.detail}`).join('\n')}`);
      },
    });
    if (!ready) return;
    out.plain(bannerText({ replicas, apiKey: startup.apiKey, colour: out.colour }));
    if (!opts.demo) return;
    const orchestrator = replicas.find((r) => r.service === 'orchestrator');
    if (!orchestrator || opts.only.length < SERVICES.length) {
      out.info('demo task skipped: it needs all five services (run without --only, or pass --no-demo)');
      return;
    }
    out.info('running the demo agent: submitting "What is 2+2?" to agent "demo"');
    try {
      out.info(await runDemo(orchestrator.port, startup.apiKey.value, lifetime.signal));
    } catch (err) {
      if (lifetime.signal.aborted) return;
      out.warn(`demo task did not complete: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  afterReady().catch((err: unknown) => out.warn(`readiness check failed: ${String(err)}`));

  await stopped;
  out.info('all processes stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`launcher failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
