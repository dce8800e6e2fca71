#!/usr/bin/env node
import { ApiError, ConnectError, KeelClient } from './api';
import { parseCommand, USAGE, UsageError } from './args';
import type { Command } from './args';
import { loadConfig } from './config';
import type { CliConfig } from './config';
import { NatsUnavailable, readDeadLetters } from './dead-letters';
import { runEvalCommand } from './eval/command';
import { runFeedbackCandidates } from './feedback-candidates';
import { followEvents } from './follow';
import { Streams } from '@keel/contracts';
import { formatDeadLetters, formatEvent, formatTask } from './format';
import { runReplayCommand } from './replay';
import type { Style } from './format';

/** `keel`: submit and follow tasks, read dead letters, and run evaluations, from a terminal. */
const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const json = (v: unknown): void => print(JSON.stringify(v));

async function run(command: Command, cfg: CliConfig, style: Style): Promise<number> {
  const client = new KeelClient(cfg);
  switch (command.cmd) {
    case 'help':
      print(USAGE);
      return 0;
    case 'submit': {
      const created = await client.submit(
        { input: command.input, agent: command.agent, metadata: command.metadata },
        { idempotencyKey: command.idempotencyKey },
      );
      if (!command.wait) {
        if (command.json) json(created);
        else print(created.id);
        return 0;
      }
      if (!command.json) print(`task ${created.id} ${created.status}`);
      for await (const event of followEvents(client, created.id)) {
        if (command.json) json(event);
        else print(formatEvent(event, style));
      }
      const task = await client.task(created.id);
      if (command.json) json(task);
      else print(`\n${formatTask(task, style)}`);
      return task.status === 'succeeded' ? 0 : 1;
    }
    case 'task': {
      const task = await client.task(command.id);
      if (command.json) json(task);
      else print(formatTask(task, style));
      return 0;
    }
    case 'events': {
      for await (const event of followEvents(client, command.id)) {
        if (command.json) json(event);
        else print(formatEvent(event, style));
      }
      return 0;
    }
    case 'dead-letters': {
      const result = await readDeadLetters(cfg.natsUrl, { service: command.service, limit: command.limit });
      if (command.json) {
        json(result.state === 'ok' ? result.rows.map((r) => (r.letter ? { seq: r.seq, ...r.letter } : { seq: r.seq, subject: r.subject, raw: r.raw })) : []);
        return 0;
      }
      if (result.state === 'missing') {
        print('No dead letters: the KEEL_DLQ stream does not exist yet (the services create it when they start).');
      } else if (result.state === 'empty') {
        print('No dead letters: the KEEL_DLQ stream is empty.');
      } else if (result.rows.length === 0) {
        print(`No dead letters from service "${command.service ?? ''}" (the stream holds ${result.total} from others).`);
      } else {
        print(formatDeadLetters(result.rows, style));
        const shown = result.rows.length;
        print(`\n${shown} shown (newest ${command.limit} at most) of ${result.total} in ${Streams.deadLetters}.`);
      }
      return 0;
    }
    case 'replay':
      return runReplayCommand(command, cfg, { stdout: print, style });
    case 'eval': {
      const outcome = await runEvalCommand(command, cfg, { stdout: print, stderr: process.stderr, style });
      // A task that could not be cancelled leaves its event stream open: do not wait for it.
      if (outcome.forceExit) process.exit(outcome.code);
      return outcome.code;
    }
    case 'feedback-candidates':
      return runFeedbackCandidates(command, cfg, { stdout: print, stderr: (s) => process.stderr.write(`${s}\n`) });
  }
}

async function main(argv: string[]): Promise<number> {
  // `keel events <id> | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const cfg = loadConfig(process.env);
  const style: Style = { colour: process.stdout.isTTY === true && !process.env.NO_COLOR };
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // An unknown command gets the whole usage text; a bad option just a pointer to it.
    const unknown = err.message.startsWith('unknown command');
    process.stderr.write(`keel: ${err.message}\n${unknown ? `\n${USAGE}` : 'Run `keel help` for the commands and options.'}\n`);
    return 2;
  }
  try {
    return await run(command, cfg, style);
  } catch (err) {
    if (err instanceof ApiError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      if (err.code === 'unauthorized') process.stderr.write('hint: set KEEL_API_KEY (npm start prints the key it uses)\n');
      return 1;
    }
    if (err instanceof ConnectError) {
      process.stderr.write(`error: ${err.message}\n`);
      if (/ECONNREFUSED/.test(err.reason)) {
        process.stderr.write('hint: is Keel running? Start it with `npm start`, or point KEEL_URL at it.\n');
      }
      return 1;
    }
    if (err instanceof NatsUnavailable) {
      process.stderr.write(`error: ${err.message}\nhint: start Keel's NATS (see \`npm start\`), or point NATS_URL at it.\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`keel: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
