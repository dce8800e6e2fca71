/** sha256 of canonical JSON (object keys sorted at every level); shared with the orchestrator through `@keel/contracts`. */
export { argsHash } from '@keel/contracts';
