// Three suites: unit tests beside the code (*.spec.ts, no I/O), integration tests
// against real NATS JetStream and Postgres (*.int-spec.ts), and end-to-end tests
// that start the five services as processes (e2e/*.e2e-spec.ts).
const swc = ['@swc/jest', {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
}];
const common = {
  // Nest 12 ships ESM only; Jest's CommonJS runtime needs it transformed.
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|file-type|strtok3|token-types|@tokenizer|uint8array-extras)/)'],
  moduleNameMapper: { '^@keel/(.*)$': '<rootDir>/libs/$1/src/index.ts' },
  testEnvironment: 'node',
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools}/*/src/**/*.spec.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs,tools}/*/src/**/*.int-spec.ts'], setupFilesAfterEnv: ['<rootDir>/tools/jest/timeouts.integration.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.e2e-spec.ts'], setupFilesAfterEnv: ['<rootDir>/tools/jest/timeouts.e2e.ts'] },
  ],
};
