/** Injection tokens for what every service gets from its bootstrap. */
export const LOGGER = Symbol('keel:logger');
export const ENV = Symbol('keel:env');
export const AGENTS = Symbol('keel:agents');
export const OPENAPI_DOCUMENT = Symbol('keel:openapi');
export const SERVICE_NAME = Symbol('keel:service-name');
