// A stand-in for the `vscode` module so that extension code can be loaded in plain Node for the
// few unit tests that check its security decisions (which setting value counts, the webview's
// HTML, the read-only file system). Import this first: it hooks `require('vscode')`.
// Settings are whatever a test puts in `stub.settings` (inspect() results by full key).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object itself, to patch it
import Module = require('node:module');

type Any = Record<string, unknown>;

export const stub = {
  settings: new Map<string, { defaultValue?: unknown; globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown }>(),
  isTrusted: true,
  messages: [] as string[],
};

class Disposable { constructor(private readonly fn: () => void = () => undefined) {} dispose(): void { this.fn(); } }
class EventEmitter<T> {
  private listeners: Array<(e: T) => void> = [];
  event = (l: (e: T) => void): Disposable => { this.listeners.push(l); return new Disposable(() => { this.listeners = this.listeners.filter((x) => x !== l); }); };
  fire(e: T): void { for (const l of this.listeners) l(e); }
  dispose(): void { this.listeners = []; }
}
class FileSystemError extends Error {
  constructor(readonly code: string, what?: unknown) { super(`${code}: ${String(what)}`); }
  static NoPermissions(u?: unknown): FileSystemError { return new FileSystemError('NoPermissions', u); }
  static FileNotFound(u?: unknown): FileSystemError { return new FileSystemError('FileNotFound', u); }
  static Unavailable(u?: unknown): FileSystemError { return new FileSystemError('Unavailable', u); }
  static FileIsADirectory(u?: unknown): FileSystemError { return new FileSystemError('FileIsADirectory', u); }
}

/** Anything not modelled: a callable that returns a disposable-ish object. */
function anything(): unknown {
  const f = (): unknown => anything();
  return new Proxy(f, { get: (_t, p) => (p === 'dispose' ? () => undefined : p === 'then' ? undefined : anything()) });
}

class RelativePattern { constructor(readonly base: unknown, readonly pattern: string) {} }
class MarkdownString { isTrusted?: unknown; supportHtml?: boolean; constructor(readonly value = '') {} }
class Range { constructor(readonly startLine: number, readonly startCharacter: number, readonly endLine: number, readonly endCharacter: number) {} }
class Hover { constructor(readonly contents: MarkdownString, readonly range?: Range) {} }

const vscode: Any = {
  Disposable, EventEmitter, FileSystemError, RelativePattern, MarkdownString, Range, Hover,
  Uri: { parse: (s: string) => ({ toString: () => s, path: s, scheme: s.split(':')[0] }), file: (p: string) => ({ toString: () => `file://${p}`, fsPath: p, path: p, scheme: 'file' }) },
  workspace: new Proxy({
    getConfiguration: (section?: string) => ({
      inspect: (key: string) => stub.settings.get(section ? `${section}.${key}` : key),
      get: (key: string, d?: unknown) => { const i = stub.settings.get(section ? `${section}.${key}` : key); return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue ?? i?.defaultValue ?? d; },
    }),
    onDidChangeConfiguration: () => new Disposable(),
    get isTrusted() { return stub.isTrusted; },
  } as Any, { get: (t, p: string) => (p in t ? t[p] : anything()) }),
  window: new Proxy({
    showErrorMessage: async (m: string) => { stub.messages.push(m); return undefined; },
    showWarningMessage: async (m: string) => { stub.messages.push(m); return undefined; },
    showInformationMessage: async (m: string) => { stub.messages.push(m); return undefined; },
  } as Any, { get: (t, p: string) => (p in t ? t[p] : anything()) }),
};
const proxied = new Proxy(vscode, { get: (t, p: string) => (p in t ? t[p] : anything()) });

const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = mod._load;
mod._load = function (request: string, ...rest: unknown[]): unknown {
  if (request === 'vscode') return proxied;
  return load.call(this, request, ...rest);
};
