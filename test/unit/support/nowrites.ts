// Proves that reading an image writes nothing: while `fn` runs, every writing function of `fs` and
// `fs/promises` is wrapped to record its call (and still work), and the process runs in a fresh
// empty directory that must still be empty afterwards (catches relative writes by any route).
// The module object itself (not an import namespace, whose properties are read-only getters).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object itself, to patch it
import fs = require('node:fs');
import * as os from 'node:os';
import * as path from 'node:path';

const WRITERS = [
  'writeFile', 'appendFile', 'createWriteStream', 'mkdir', 'mkdtemp', 'symlink', 'link', 'rename', 'rm', 'rmdir',
  'unlink', 'copyFile', 'cp', 'chmod', 'chown', 'lchown', 'utimes', 'lutimes', 'truncate', 'write', 'writev',
] as const;

function isWriteFlag(flags: unknown): boolean {
  if (typeof flags === 'number') return (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND)) !== 0;
  return typeof flags === 'string' && /[wa+]/.test(flags);
}

export interface WriteWatch { calls: string[]; leftovers: string[] }

export async function withNoWrites<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; watch: WriteWatch }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-nowrite-'));
  const calls: string[] = [];
  const restore: Array<() => void> = [];
  const wrap = (obj: Record<string, unknown>, name: string, label: string, onlyIf?: (args: unknown[]) => boolean): void => {
    const orig = obj[name];
    if (typeof orig !== 'function') return;
    obj[name] = function (this: unknown, ...args: unknown[]) {
      if (!onlyIf || onlyIf(args)) calls.push(`${label}(${String(args[0]).slice(0, 80)})`);
      return (orig as (...a: unknown[]) => unknown).apply(this, args);
    };
    restore.push(() => { obj[name] = orig; });
  };
  const sync = fs as unknown as Record<string, unknown>;
  const prom = fs.promises as unknown as Record<string, unknown>;
  for (const w of WRITERS) {
    wrap(sync, w, `fs.${w}`);
    wrap(sync, w + 'Sync', `fs.${w}Sync`);
    wrap(prom, w, `fs.promises.${w}`);
  }
  wrap(sync, 'open', 'fs.open(write)', (a) => isWriteFlag(a[1]));
  wrap(sync, 'openSync', 'fs.openSync(write)', (a) => isWriteFlag(a[1]));
  wrap(prom, 'open', 'fs.promises.open(write)', (a) => isWriteFlag(a[1]));

  const cwd = process.cwd();
  process.chdir(dir);
  let value: T | undefined;
  let error: unknown;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  } finally {
    process.chdir(cwd);
    for (const r of restore.reverse()) r();
  }
  const leftovers = fs.readdirSync(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return { value, error, watch: { calls, leftovers } };
}
