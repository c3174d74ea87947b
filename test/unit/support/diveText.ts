// How dive's tree prints a row's size and mode, for the tests that compare our rows with dive's
// rendered test data (test/fixtures/dive/viewmodel).

/** go-humanize's Bytes (SI), as dive's tree prints sizes. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${units[e]}`;
}

/** `ls -l`-style mode, as dive's tree prints it (drwxrwxrwt for /tmp). */
export function lsMode(type: string, mode: number): string {
  const t = ({ dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p' } as Record<string, string>)[type] ?? '-';
  const bit = (m: number, c: string): string => (mode & m ? c : '-');
  let s = t + bit(0o400, 'r') + bit(0o200, 'w') + bit(0o100, 'x') + bit(0o40, 'r') + bit(0o20, 'w') + bit(0o10, 'x') + bit(0o4, 'r') + bit(0o2, 'w') + bit(0o1, 'x');
  const set = (i: number, on: boolean, lower: string): void => { if (on) s = s.slice(0, i) + (s[i] === 'x' ? lower : lower.toUpperCase()) + s.slice(i + 1); };
  set(3, (mode & 0o4000) !== 0, 's');
  set(6, (mode & 0o2000) !== 0, 's');
  set(9, (mode & 0o1000) !== 0, 't');
  return s;
}
