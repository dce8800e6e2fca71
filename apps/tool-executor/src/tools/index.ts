export type { Idempotency, Permission, RiskLevel, RetryPolicy, ToolContext, ToolDefinition, ToolSource } from './tool.definition';
export { parametersOf, riskForPermission, NO_RETRY, MAX_RETRY_BACKOFF_MS } from './tool.definition';
export { jsonSchemaArgs, modelParameters } from './json-schema';
export { declaredHttpTool, parseUrlTemplate, expandUrlTemplate, methodPermission } from './declared-http.tool';
export type { DeclaredHttpToolOptions, UrlTemplate } from './declared-http.tool';
export { ToolRegistry, builtInTools, describeIssues } from './tool.registry';
export type { BuiltInToolsOptions } from './tool.registry';
export { calculatorTool, CalculatorArgsSchema, MAX_EXPRESSION_LENGTH, CALCULATOR_TIME_LIMIT_MS } from './calculator.tool';
export type { CalculatorArgs, CalculatorToolOptions } from './calculator.tool';
export { CalculatorSandbox, DISABLED_FUNCTIONS } from './calculator.sandbox';
export { evaluateScalar, isScalarTree, FAST_PATH_MAX_NODES, FAST_PATH_FUNCTIONS } from './calculator.fast-path';
export { noopTool, NoopArgsSchema } from './noop.tool';
export type { NoopArgs } from './noop.tool';
export type { CalculatorSandboxOptions } from './calculator.sandbox';
export {
  httpRequestTool, HttpRequestArgsSchema, HTTP_METHODS, MAX_RESPONSE_BYTES, MAX_REQUEST_BODY_BYTES, MAX_REDIRECTS,
} from './http-request.tool';
export type { HttpMethod, HttpRequestArgs, HttpRequestToolOptions, HttpResponseResult, LookupFn } from './http-request.tool';
export { EgressPolicy, classifyAddress, parseAllowEntry, matchAllow, canonicalHost } from './egress.policy';
export type { AddressClass, AllowEntry, AllowMatch, Destination, ResolvedAddress } from './egress.policy';
export { runCodeTool, RunCodeArgsSchema, RUN_CODE_LANGUAGES, MAX_CODE_LENGTH, MAX_STDIN_LENGTH, TIMEOUT_MARGIN_MS, shapeResult } from './run-code.tool';
export type { RunCodeArgs, RunCodeLanguage, RunCodeResult, RunCodeToolOptions } from './run-code.tool';
