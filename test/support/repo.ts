// Where the repository and its compiled tests are, for tests at any depth of test/.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root: the directory with the layer-lens package.json above this file (or cwd). */
export function repoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let d = start;
    for (;;) {
      const p = path.join(d, 'package.json');
      if (existsSync(p)) {
        try {
          if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'layer-lens') return d;
        } catch { /* keep looking */ }
      }
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  throw new Error(`cannot find the layer-lens repository root above ${__dirname} or ${process.cwd()}`);
}

/** tsc's output root (out/), which holds the compiled src/ and test/ trees. */
export const OUT_ROOT = path.resolve(__dirname, '..', '..');

/** The bundled CLI (dist/cli.js, as `npm run build` makes it): what users run, and quicker to start than out/'s modules. */
export const CLI_BUNDLE = path.join(repoRoot(), 'dist', 'cli.js');
