import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'examples/**', '.nodered/**', 'bench/results.json'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
      // Node-RED node constructors conventionally keep `const node = this` for callbacks.
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
  {
    // Tests poke at runtime objects whose shapes the helper does not type.
    files: ['test/**/*.ts', 'types/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The dashboard page runs in the browser, as a classic script.
    files: ['dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(['document', 'location', 'fetch', 'EventSource', 'setTimeout', 'setInterval'].map((g) => [g, 'readonly'])),
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
);
