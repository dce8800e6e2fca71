// Lint with type information. Module boundaries are enforced here, not just drawn:
// - apps and tools reach libs only through their public entry (`@keel/<lib>`);
// - no project imports another app, and libs never import apps or tools;
// - libs stay acyclic (import-x/no-cycle).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const boundaries = {
  patterns: [
    { group: ['@keel/*/*'], message: 'Import a lib through its public index: @keel/<lib>, never a deep path.' },
    { group: ['**/libs/*', '**/libs/*/**'], message: 'Import a lib as @keel/<lib>, not by a relative path.' },
    { group: ['**/apps/*', '**/apps/*/**', '@keel/orchestrator', '@keel/router', '@keel/guardrail', '@keel/tool-executor', '@keel/approval'], message: 'Services never import each other: talk over NATS with @keel/contracts.' },
  ],
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '.nx/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      'import-x/no-cycle': 'error',
      'no-restricted-imports': ['error', boundaries],
    },
  },
  {
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [...boundaries.patterns, { group: ['@keel/launcher', '@keel/cli'], message: 'libs never import tools.' }],
      }],
    },
  },
  {
    // Nest's decorators need runtime class references for DI: type-only imports would break injection.
    files: ['apps/**/*.ts', 'libs/service-kit/**/*.ts', 'libs/persistence/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
