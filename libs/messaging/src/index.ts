export { Bus, Consumption, backoffDelay, formatIssues } from './bus';
export type { BusOptions, ConsumeSpec, ServeSpec, RequestOptions, DeliveryContext } from './bus';
export { STREAMS } from './streams';
export type { StreamDef } from './streams';
export { encodeJson, decodeJson } from './codec';
export { permissionsOf, natsAuthorizationConfig, inboxPrefix, KEEL_SERVICES } from './permissions';
export type { KeelService, ServicePermissions } from './permissions';
