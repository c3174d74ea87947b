// ESLint flat config. The rule that matters most: src/core is pure logic and may not import
// `vscode` (nor the engine adapter), so it stays unit-testable without an editor or a daemon.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', '.vscode-test/**', '.e2e/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // No shell string interpolation anywhere: processes are started with argument arrays.
      'no-restricted-properties': ['error',
        { object: 'child_process', property: 'exec', message: 'Use execFile/spawn with an argument array.' },
        { object: 'child_process', property: 'execSync', message: 'Use execFileSync/spawnSync with an argument array.' }],
      'no-restricted-imports': ['error', { paths: ['child_process', 'node:child_process'].map((name) => ({
        name, importNames: ['exec', 'execSync'], message: 'Use execFile/spawn with an argument array.' })) }],
      'no-restricted-syntax': ['error', { selector: "Property[key.name='shell'][value.value=true]", message: 'No shell: pass an argument array.' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'src/core is pure: no vscode import.' },
                { name: 'dockerode', message: 'src/core is pure: the engine is reached through src/engine.' },
                { name: 'child_process', message: 'src/core is pure: no processes.' },
                { name: 'node:child_process', message: 'src/core is pure: no processes.' }],
        patterns: [{ group: ['**/vscode/**', '**/engine/**', '**/cli/**'], message: 'src/core may not depend on adapters.' }],
      }],
    },
  },
);
