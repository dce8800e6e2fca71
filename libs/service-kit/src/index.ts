export { runService, schemaOf, redactUrl } from './run-service';
export type { Infra, ServiceDefinition } from './run-service';
export { LOGGER, ENV, AGENTS, OPENAPI_DOCUMENT, SERVICE_NAME } from './tokens';
export { ApiKeyGuard, PrincipalResolver, RequireRoles, ROLES_KEY } from './auth/api-key.guard';
export { NatsPrincipalResolver } from './auth/nats-principal.resolver';
export type { AuthedRequest } from './auth/api-key.guard';
export { KeelErrorFilter, toKeelError } from './http/error.filter';
export { ReadinessService } from './health/readiness.service';
export type { ReadinessReport } from './health/readiness.service';
