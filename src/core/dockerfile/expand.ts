// Variable substitution as Docker's builders do it (their shell-word processing): `$A`, `${A}`,
// the `:-`, `-`, `:+`, `+`, `:?` forms and prefix/suffix removal, quotes and escape characters, and
// splitting a line into words. Pure: no I/O.


export interface ExpandOptions {
  /** Escape character (default `\`). */
  escape?: string;
  /** Leave `$NAME` / `${NAME}` of unknown variables as written instead of ''. */
  skipUnset?: boolean;
  /** Keep quotes and escape characters (only substitute variables). */
  rawQuotes?: boolean;
}

/**
 * Substitute variables in one word the way Docker's builders do (`$A`, `${A}`, `${A:-w}`, `${A-w}`,
 * `${A:+w}`, `${A+w}`, `${A:?m}`, `${A#p}`, `${A##p}`, `${A%p}`, `${A%%p}`), removing quotes and
 * escape characters unless `rawQuotes`. Never throws: a malformed word is processed as far as it
 * goes (an unterminated quote runs to the end).
 */
export function expandWord(word: string, vars: ReadonlyMap<string, string> | Record<string, string>, options: ExpandOptions = {}): string {
  const get = vars instanceof Map
    ? (k: string): string | undefined => vars.get(k)
    : (k: string): string | undefined => (Object.prototype.hasOwnProperty.call(vars, k) ? (vars as Record<string, string>)[k] : undefined);
  const lx = new Lexer(word, get, options.escape ?? '\\', options.skipUnset ?? false, options.rawQuotes ?? false);
  return lx.run();
}

class Lexer {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly get: (k: string) => string | undefined,
    private readonly esc: string,
    private readonly skipUnset: boolean,
    private readonly rawQuotes: boolean,
  ) {}

  run(): string {
    return this.until(null);
  }

  private peek(): string | undefined {
    return this.s[this.pos];
  }

  /** Process until `stop` (consumed) or the end. */
  private until(stop: string | null): string {
    let out = '';
    while (this.pos < this.s.length) {
      const ch = this.s[this.pos];
      if (stop !== null && ch === stop) {
        this.pos++;
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
      } else if (ch === "'") {
        out += this.single();
      } else if (ch === '"') {
        out += this.double();
      } else if (ch === this.esc) {
        this.pos++;
        if (this.rawQuotes) out += ch;
        if (this.pos < this.s.length) out += this.s[this.pos++];
      } else {
        out += ch;
        this.pos++;
      }
    }
    return out;
  }

  private single(): string {
    let out = this.rawQuotes ? "'" : '';
    this.pos++;
    while (this.pos < this.s.length) {
      const ch = this.s[this.pos++];
      if (ch === "'") return out + (this.rawQuotes ? "'" : '');
      out += ch;
    }
    return out;
  }

  private double(): string {
    let out = this.rawQuotes ? '"' : '';
    this.pos++;
    while (this.pos < this.s.length) {
      const ch = this.s[this.pos];
      if (ch === '"') {
        this.pos++;
        return out + (this.rawQuotes ? '"' : '');
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === this.esc) {
        const next = this.peek();
        if (next === undefined) continue;
        if (next === '"' || next === '$' || next === this.esc) {
          if (this.rawQuotes) out += ch;
          out += next;
          this.pos++;
          continue;
        }
      }
      out += ch;
    }
    return out;
  }

  private name(): string {
    const start = this.pos;
    const first = this.s[this.pos];
    if (first !== undefined && /[0-9]/.test(first)) {
      // $1 and the like: one digit (positional parameters)
      this.pos++;
      return first;
    }
    while (this.pos < this.s.length && /[A-Za-z0-9_]/.test(this.s[this.pos])) this.pos++;
    return this.s.slice(start, this.pos);
  }

  private dollar(): string {
    const start = this.pos;
    this.pos++; // $
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.get(name);
      if (v === undefined && this.skipUnset) return '$' + name;
      return v ?? '';
    }
    this.pos++; // {
    const name = this.name();
    const op = this.peek();
    if (name === '' || op === undefined) {
      // bad substitution: keep as written
      this.pos = this.s.length;
      return this.s.slice(start);
    }
    this.pos++;
    if (op === '}') {
      const v = this.get(name);
      if (v === undefined && this.skipUnset) return '${' + name + '}';
      return v ?? '';
    }
    let mod = op;
    let colon = false;
    if (op === ':') {
      colon = true;
      const m = this.peek();
      if (m === undefined) return this.s.slice(start);
      mod = m;
      this.pos++;
    }
    let twice = false;
    if ((mod === '#' || mod === '%') && this.peek() === mod) {
      twice = true;
      this.pos++;
    }
    const word = this.until('}');
    const v = this.get(name);
    if (v === undefined && this.skipUnset) return this.s.slice(start, this.pos);
    const set = v !== undefined && (!colon || v !== '');
    switch (mod) {
      case '-':
        return set ? (v as string) : word;
      case '+':
        return set ? word : '';
      case '?':
        return v ?? '';
      case '#':
        return removeAffix(v ?? '', word, 'prefix', twice);
      case '%':
        return removeAffix(v ?? '', word, 'suffix', twice);
      default:
        return v ?? '';
    }
  }
}

function globToRegExp(glob: string): string {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

function removeAffix(value: string, pattern: string, where: 'prefix' | 'suffix', longest: boolean): string {
  const body = globToRegExp(pattern);
  const lazy = longest ? '' : '?';
  try {
    if (where === 'prefix') {
      const m = new RegExp('^(' + body.replace(/\.\*/g, '.*' + lazy) + ')').exec(value);
      return m ? value.slice(m[1].length) : value;
    }
    // suffix: find the shortest/longest matching tail
    const re = new RegExp('^(?:' + body + ')$');
    if (longest) {
      for (let i = 0; i <= value.length; i++) if (re.test(value.slice(i))) return value.slice(0, i);
    } else {
      for (let i = value.length; i >= 0; i--) if (re.test(value.slice(i))) return value.slice(0, i);
    }
    return value;
  } catch {
    return value;
  }
}

/**
 * Split a line into words the way the builders split COPY/ADD/EXPOSE/VOLUME arguments: on
 * whitespace outside quotes, quotes and escapes kept (they are removed by `expandWord` later).
 */
export function splitWords(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === null && /\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === escape && i + 1 < text.length) {
      cur += ch + text[++i];
      continue;
    }
    if (quote === null && (ch === '"' || ch === "'")) quote = ch;
    else if (quote === ch) quote = null;
    cur += ch;
  }
  if (inWord) words.push(cur);
  return words;
}
