import { parseOnly, UsageError } from './args';
import { parseArgs } from 'node:util';
import { Output } from './output';
import { prepare, resolveStartup, StartupError } from './startup';

/** `npm run migrate`: the launcher's pre-flight and migrations, without starting anything. */
async function main(argv: string[]): Promise<number> {
  let only;
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { only: { type: 'string', multiple: true } } });
    only = parseOnly(values.only ?? []);
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\nUsage: npm run migrate [-- --only svc,...]\n`);
    return err instanceof UsageError || err instanceof TypeError ? 2 : 1;
  }
  const out = new Output(false, Math.max(...only.map((s) => `${s}.migrate`.length)));
  try {
    await prepare(resolveStartup(), only, out);
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
  out.info('migrations applied');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`migrate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
