export { CircuitBreakers } from './circuit-breaker';
export type { BreakerOptions, BreakerState } from './circuit-breaker';
