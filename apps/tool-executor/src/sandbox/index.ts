export { DEFAULT_SANDBOX_CONFIG, sandboxConfigFromEnv, silentLog } from './sandbox.config';
export type { SandboxConfig, SandboxEnv, SandboxLog } from './sandbox.config';
export { ProcessSandbox, bwrapArgs, hostLayout, launcherScript, sandboxUnavailable, INTERPRETERS, SANDBOX_UID, WORK_DIR } from './process.sandbox';
export type { BwrapArgsOptions, KillReason, ProcessLanguage, RunRequest, RunResult, SandboxStatus } from './process.sandbox';
export { QuickJsSandbox } from './quickjs.sandbox';
export type { JsRunRequest, JsRunResult, QuickJsSandboxOptions } from './quickjs.sandbox';
export { OutputCollector } from './output';
export { detectCgroups, parseProcCgroup } from './cgroups';
export type { CallCgroup, CgroupBackend, CgroupLimits, CgroupStats } from './cgroups';
