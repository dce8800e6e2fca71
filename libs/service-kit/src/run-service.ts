import 'reflect-metadata';
import { Global, Module } from '@nestjs/common';
import type { DynamicModule, LoggerService, Provider, Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { Agent } from '@keel/contracts';
import { AgentLoadError, baseEnvSchema, ConfigError, loadAgents, parseEnv, redactUrl } from '@keel/config';
import type { BaseEnv } from '@keel/config';
import { Bus } from '@keel/messaging';
import { DataSource, migrate, openDatabase } from '@keel/persistence';
import type { MigrationClass } from '@keel/persistence';
import { createLogger, initMetrics, shutdownTelemetry } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { ApiKeyGuard, PrincipalResolver } from './auth/api-key.guard';
import { HealthController } from './health/health.controller';
import { ReadinessService } from './health/readiness.service';
import { KeelErrorFilter } from './http/error.filter';
import { RateLimiter, rateLimitSettingsFromEnv } from './rate-limit/rate-limiter';
import { earlyShed } from './rate-limit/early-shed';
import { AGENTS, ENV, LOGGER, OPENAPI_DOCUMENT, SERVICE_NAME } from './tokens';

/**
 * The one way a Keel service starts and stops, so all five behave alike:
 * configuration parsed (or a clear exit), agents loaded, Postgres opened and
 * migrated, NATS connected, Nest app up with /healthz, /readyz, /metrics, and
 * on SIGTERM: stop pulling work, finish or hand back in-flight work, close
 * HTTP, drain NATS, close Postgres, flush telemetry.
 */
export interface Infra<E extends BaseEnv = BaseEnv> {
  service: string;
  env: E & { PORT: number };
  logger: Logger;
  bus: Bus;
  db: DataSource;
  agents: Map<string, Agent>;
}

export interface ServiceDefinition<S extends z.ZodObject> {
  name: string;
  /** The service's variables; must include PORT. Extends baseEnvSchema. */
  envSchema: S;
  migrations: MigrationClass[];
  /** The service's feature module(s). */
  imports: (infra: Infra<z.output<S> & BaseEnv>) => Array<Type | DynamicModule>;
  /** Provides `PrincipalResolver` when the service has authenticated routes. */
  providers?: Provider[];
  openapi?: Record<string, unknown>;
}

export async function runService<S extends z.ZodObject>(def: ServiceDefinition<S>, argv: string[] = process.argv.slice(2)): Promise<void> {
  let env: z.output<S> & BaseEnv & { PORT: number };
  try {
    env = parseEnv(baseEnvSchema.extend(def.envSchema.shape)) as typeof env;
  } catch (err) {
    return die(def.name, err instanceof ConfigError ? err.message : String(err));
  }
  const logger = createLogger(def.name, { level: env.LOG_LEVEL, instance: env.KEEL_INSTANCE });
  initMetrics(def.name, env.KEEL_INSTANCE);

  if (argv[0] === 'migrate') {
    const db = await openOrDie(def, env, logger);
    const applied = await migrate(db, schemaOf(def.name));
    logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'no pending migrations');
    await db.destroy();
    return;
  }

  let agents: Map<string, Agent>;
  try {
    agents = loadAgents([resolve(env.KEEL_BUILTIN_AGENTS_DIR), ...env.KEEL_AGENTS_DIR].filter((d, i) => i > 0 || dirExists(d)));
  } catch (err) {
    return die(def.name, err instanceof AgentLoadError ? err.message : String(err));
  }

  const db = await openOrDie(def, env, logger);
  if (env.KEEL_MIGRATE_ON_START) {
    const applied = await migrate(db, schemaOf(def.name));
    if (applied.length) logger.info({ applied }, `applied ${applied.length} migration(s)`);
  }
  let bus: Bus;
  try {
    const tls = env.NATS_TLS_CA_FILE || env.NATS_TLS_CERT_FILE
      ? { caFile: env.NATS_TLS_CA_FILE, certFile: env.NATS_TLS_CERT_FILE, keyFile: env.NATS_TLS_KEY_FILE }
      : undefined;
    bus = await Bus.connect({
      url: env.NATS_URL, service: def.name, instance: env.KEEL_INSTANCE, logger, streamReplicas: env.KEEL_STREAM_REPLICAS,
      user: env.NATS_USER, password: env.NATS_PASSWORD, tls, maxMessageBytes: env.KEEL_MAX_MESSAGE_BYTES,
    });
  } catch (err) {
    return die(def.name, `cannot connect to NATS at ${redactUrl(env.NATS_URL)}: ${(err as Error).message}. Is nats-server running with JetStream (-js)?`);
  }

  const infra: Infra<z.output<S> & BaseEnv> = { service: def.name, env, logger, bus, db, agents };
  const infraModule = buildInfraModule(infra, def);
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      { module: class KeelApp {}, imports: [infraModule, ...def.imports(infra)] } as DynamicModule,
      { logger: new NestPinoLogger(logger), bodyParser: false, abortOnError: false },
    );
  } catch (err) {
    // A provider validating its own settings at construction (e.g. the router's KEEL_PROVIDERS).
    if (err instanceof ConfigError) return die(def.name, err.message);
    throw err;
  }
  // A tenant over its limit is refused before its body is even parsed (rate-limit/early-shed.ts).
  // Only services with authenticated routes provide a PrincipalResolver (buildInfraModule: `def.providers`).
  if ((def.providers ?? []).length > 0) app.use(earlyShed(app.get(RateLimiter), app.get(PrincipalResolver)));
  app.useBodyParser('json', { limit: env.KEEL_MAX_BODY_BYTES });
  app.useGlobalFilters(new KeelErrorFilter(logger));
  app.disable('x-powered-by');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: handing back in-flight work');
    app.get(ReadinessService).shuttingDown = true;
    const timer = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, env.KEEL_SHUTDOWN_TIMEOUT_MS + 5000).unref();
    try {
      await bus.close(env.KEEL_SHUTDOWN_TIMEOUT_MS);
      await app.close();
      await db.destroy();
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
    } finally {
      await shutdownTelemetry();
      clearTimeout(timer);
      logger.info('stopped');
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.init();
  await app.listen(env.PORT, '0.0.0.0');
  logger.info({ port: env.PORT, agents: [...agents.keys()] }, `${def.name} ready on :${env.PORT}`);
}

function buildInfraModule<S extends z.ZodObject>(infra: Infra, def: ServiceDefinition<S>): DynamicModule {
  @Global()
  @Module({})
  class InfraModule {}
  const providers: Provider[] = [
    { provide: LOGGER, useValue: infra.logger },
    { provide: ENV, useValue: infra.env },
    { provide: AGENTS, useValue: infra.agents },
    { provide: SERVICE_NAME, useValue: infra.service },
    { provide: OPENAPI_DOCUMENT, useValue: def.openapi ?? null },
    { provide: Bus, useValue: infra.bus },
    { provide: DataSource, useValue: infra.db },
    { provide: RateLimiter, useValue: new RateLimiter(rateLimitSettingsFromEnv(infra.env)) },
    ReadinessService,
    ...(def.providers ?? []),
  ];
  const hasResolver = (def.providers ?? []).length > 0;
  if (hasResolver) providers.push({ provide: APP_GUARD, useClass: ApiKeyGuard });
  return { module: InfraModule, providers, exports: providers.filter((p) => !(typeof p === 'object' && 'provide' in p && p.provide === APP_GUARD)), controllers: [HealthController] };
}

export const schemaOf = (service: string): string => service.replace(/-/g, '_');

async function openOrDie(def: { name: string; migrations: MigrationClass[] }, env: BaseEnv, logger: Logger): Promise<DataSource> {
  // Postgres may still be starting (compose, a pod restart): retry briefly before giving up.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await openDatabase({ url: env.DATABASE_URL, schema: schemaOf(def.name), migrations: def.migrations, applicationName: `keel-${def.name}`, poolSize: env.KEEL_DB_POOL_SIZE });
    } catch (err) {
      if (Date.now() > deadline) {
        return die(def.name, `cannot connect to Postgres at ${redactUrl(env.DATABASE_URL)}: ${(err as Error).message}`);
      }
      logger.warn({ err: (err as Error).message }, 'Postgres not reachable yet, retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function dirExists(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}

function die(service: string, message: string): never {
  process.stderr.write(`${JSON.stringify({ level: 60, level_name: 'fatal', service, msg: message })}\n`);
  process.stderr.write(`\n${service}: ${message}\n`);
  process.exit(1);
}

/** Routes Nest's own log lines into pino. */
class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) { this.logger.debug({ context }, String(message)); }
  error(message: unknown, trace?: string, context?: string) { this.logger.error({ context, trace }, String(message)); }
  warn(message: unknown, context?: string) { this.logger.warn({ context }, String(message)); }
  debug(message: unknown, context?: string) { this.logger.debug({ context }, String(message)); }
  verbose(message: unknown, context?: string) { this.logger.trace({ context }, String(message)); }
}
