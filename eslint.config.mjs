// ESLint flat config. Besides the usual rules it guards the folder edges of docs/architecture.md:
// each folder of src/ may import only the folders its row names (test/unit/architecture.test.ts
// checks the same table against the code's imports, type imports included, and that no import
// cycle exists).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// No shell string interpolation anywhere: processes are started with argument arrays.
const noShell = ['child_process', 'node:child_process'].map((name) => ({
  name, importNames: ['exec', 'execSync'], message: 'Use execFile/spawn with an argument array.' }));

// Node modules that touch the file system, processes, the network or threads: never in src/core.
const IO_MODULES = ['fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'tls', 'dgram', 'worker_threads', 'cluster']
  .flatMap((m) => [m, `node:${m}`]);

// The folders of src/ and the patterns a file in each may not import. Patterns match the import as
// written (a relative path), so they name a folder by its last part.
const FOLDERS = [
  { files: ['src/core/image/**/*.ts'], forbid: ['**/dockerfile/**', '**/present/**', '**/contents/**'], why: 'core/image imports nothing outside core/image' },
  { files: ['src/core/dockerfile/**/*.ts'], forbid: ['**/present/**', '**/contents/**'], why: 'core/dockerfile may import core/image only' },
  { files: ['src/core/contents/**/*.ts'], forbid: ['**/present/**'], why: 'core/contents may import core/image and core/dockerfile' },
  { files: ['src/core/present/**/*.ts'], forbid: [], why: 'core/present may import core/image, core/dockerfile and core/contents' },
  { files: ['src/engine/**/*.ts'], forbid: ['**/sources/**', '**/worker/**', '**/cli/**', '**/vscode/**', '**/present/**', '**/contents/**'], why: 'engine may import core/image and core/dockerfile only' },
  { files: ['src/sources/**/*.ts'], forbid: ['**/worker/**', '**/cli/**', '**/vscode/**', '**/present/**', '**/contents/**'], why: 'sources may import core/image, core/dockerfile and engine' },
  { files: ['src/worker/**/*.ts'], forbid: ['**/cli/**', '**/vscode/**'], why: 'worker may import core, engine and sources' },
  { files: ['src/cli/**/*.ts'], forbid: ['**/worker/**', '**/vscode/**'], why: 'cli may import core, engine and sources' },
  { files: ['src/vscode/**/*.ts'], forbid: ['**/cli/**'], why: 'vscode may import core, engine, sources and worker' },
];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', '.vscode-test/**', '.e2e/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error',
        { object: 'child_process', property: 'exec', message: 'Use execFile/spawn with an argument array.' },
        { object: 'child_process', property: 'execSync', message: 'Use execFileSync/spawnSync with an argument array.' }],
      'no-restricted-imports': ['error', { paths: noShell }],
      'no-restricted-syntax': ['error', { selector: "Property[key.name='shell'][value.value=true]", message: 'No shell: pass an argument array.' }],
    },
  },
  ...FOLDERS.map(({ files, forbid, why }) => {
    const core = files[0].startsWith('src/core/');
    const paths = core
      ? [{ name: 'vscode', message: 'src/core is pure: no vscode import.' },
         { name: 'dockerode', message: 'src/core is pure: the engine is reached through src/engine.' },
         ...IO_MODULES.map((name) => ({ name, message: 'src/core is pure: no file system, process, network or thread.' }))]
      : noShell;
    const groups = core ? [...forbid, '**/engine/**', '**/sources/**', '**/worker/**', '**/cli/**', '**/vscode/**'] : forbid;
    return {
      files,
      rules: {
        // typescript-eslint's variant also sees `import type`, so type-only edges are guarded too.
        'no-restricted-imports': 'off',
        '@typescript-eslint/no-restricted-imports': ['error', {
          paths,
          patterns: groups.length ? [{ group: groups, message: `${why} (docs/architecture.md).` }] : [],
        }],
      },
    };
  }),
);
