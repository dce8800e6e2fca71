export { ConfigError, redactUrl, parseEnv, envBool, envInt, envUrl, envList, baseEnvSchema, portSchema } from './env';
export type { BaseEnv } from './env';
export { AgentLoadError, loadAgents, parseAgentFile } from './agents.loader';
