// Benchmark helpers for bench-editor: reading a process's memory from /proc, finding code-server's
// extension host among its processes, and reading the extension's "analyzed …" log line. The
// parsing is pure (unit-tested); the readers around it only fetch the text.
import * as fs from 'node:fs';

/** VmRSS and VmHWM (peak RSS) of a /proc/PID/status text, in KiB; undefined when absent. */
export function parseProcStatus(text: string): { rssKiB?: number; hwmKiB?: number } {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

export interface ProcInfo { pid: number; pgrp: number; cmdline: string[] }

/** Parent process id of a /proc/PID/stat text (the fields after the parenthesised command name). */
export function parseStatPpid(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") ": state ppid …
  const ppid = Number(text.slice(close + 2).split(' ')[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** Process group of a /proc/PID/stat text (the fields after the parenthesised command name). */
export function parseStatPgrp(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") ": state ppid pgrp …
  const fields = text.slice(close + 2).split(' ');
  const pgrp = Number(fields[2]);
  return Number.isInteger(pgrp) ? pgrp : undefined;
}

/**
 * The extension host of a code-server whose process group is `pgrp`: the member started with
 * `--type=extensionHost`. Undefined when there is none; an error when there are several (one
 * window is expected).
 */
export function findExtensionHost(procs: ProcInfo[], pgrp: number): number | undefined {
  const hosts = procs.filter((p) => p.pgrp === pgrp && p.cmdline.includes('--type=extensionHost'));
  if (hosts.length > 1) throw new Error(`several extension hosts in process group ${pgrp}: ${hosts.map((h) => h.pid).join(', ')}`);
  return hosts[0]?.pid;
}

/** Every process this user can read, with its group and command line. */
export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const pgrp = parseStatPgrp(fs.readFileSync(`/proc/${name}/stat`, 'utf8'));
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (pgrp !== undefined) out.push({ pid: Number(name), pgrp, cmdline });
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return out;
}

export interface AnalyzedLine {
  source: string;
  layers: number;
  totalMs: number;
  workerMs: number;
  cacheHits: number;
  /** Work on the extension's thread (sum of slices) and its longest stretch between two yields. */
  threadMs: number;
  longestSliceMs: number;
  /** The line's time stamp (`[HH:MM:SS.mmm]`, UTC) as milliseconds since midnight. */
  atMsOfDay?: number;
  /** The analysis process's peak RSS (MiB) as it reported it; undefined when the worker thread analysed. */
  analyzerPeakMiB?: number;
}

const STAMP = /^\[(\d\d):(\d\d):(\d\d)\.(\d\d\d)\] /;
const msOfDay = (m: RegExpExecArray): number => ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);

/** The extension's "analyzed SOURCE: …" lines (Layer Lens output channel) in a log text, in order. */
export function parseAnalyzedLines(text: string): AnalyzedLine[] {
  const re = /analyzed (.+?): (\d+) layers in (\d+) ms \(worker (\d+) ms, (\d+) layer\(s\) from the cache; this thread (\d+) ms in slices of at most (\d+) ms\)/;
  const out: AnalyzedLine[] = [];
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const st = STAMP.exec(line);
    const peak = /; analysis process peak RSS (\d+) MiB/.exec(line);
    out.push({
      source: m[1], layers: Number(m[2]), totalMs: Number(m[3]), workerMs: Number(m[4]), cacheHits: Number(m[5]),
      threadMs: Number(m[6]), longestSliceMs: Number(m[7]), ...(st ? { atMsOfDay: msOfDay(st) } : {}),
      ...(peak ? { analyzerPeakMiB: Number(peak[1]) } : {}),
    });
  }
  return out;
}

/**
 * The extension's "event loop blocked for N ms" lines (LAYERLENS_DEBUG), each logged as the stall
 * ended: [end as milliseconds since midnight UTC, length in ms]. Lines without a time stamp are skipped.
 */
export function parseBlockedLines(text: string): Array<[endMsOfDay: number, ms: number]> {
  const out: Array<[number, number]> = [];
  for (const line of text.split('\n')) {
    const m = /event loop blocked for (\d+) ms$/.exec(line);
    const st = STAMP.exec(line);
    if (m && st) out.push([msOfDay(st), Number(m[1])]);
  }
  return out;
}

/** Runs `read` now, every `everyMs`, and once more when stopped. */
function sampling(read: () => void, everyMs: number): { stop(): void } {
  read();
  const t = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(t);
      read();
    },
  };
}

/** Memory of one process sampled every `everyMs` until stop(): the largest VmRSS seen, and VmHWM at the end. */
export function sampleMemory(pid: number, everyMs = 50): { stop(): { maxRssKiB: number; hwmKiB: number; samples: number } } {
  let maxRss = 0;
  let hwm = 0;
  let samples = 0;
  const read = (): void => {
    try {
      const s = parseProcStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (s.rssKiB !== undefined) { maxRss = Math.max(maxRss, s.rssKiB); samples++; }
      if (s.hwmKiB !== undefined) hwm = Math.max(hwm, s.hwmKiB);
    } catch {
      // the process is gone: the figures so far stand
    }
  };
  const s = sampling(read, everyMs);
  return {
    stop() {
      s.stop();
      return { maxRssKiB: maxRss, hwmKiB: hwm, samples };
    },
  };
}

/**
 * The peak RSS (VmHWM) of each child of `parentPid` whose command line matches `cmd`, sampled every
 * `everyMs` until stop(): children that come and go between two samples are missed, and a child's
 * growth after its last sample is not seen (its own report is exact).
 */
export function sampleChildren(parentPid: number, cmd: RegExp, everyMs = 50): { stop(): Array<{ pid: number; hwmKiB: number }> } {
  const hwm = new Map<number, number>();
  const read = (): void => {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (parseStatPpid(fs.readFileSync(`/proc/${name}/stat`, 'utf8')) !== parentPid) continue;
        if (!cmd.test(fs.readFileSync(`/proc/${name}/cmdline`, 'utf8'))) continue;
        const k = parseProcStatus(fs.readFileSync(`/proc/${name}/status`, 'utf8')).hwmKiB;
        if (k !== undefined) hwm.set(Number(name), Math.max(hwm.get(Number(name)) ?? 0, k));
      } catch {
        // gone meanwhile
      }
    }
  };
  const s = sampling(read, everyMs);
  return {
    stop() {
      s.stop();
      return [...hwm].map(([pid, hwmKiB]) => ({ pid, hwmKiB }));
    },
  };
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (`echo 5 > /proc/PID/clear_refs`, Linux
 * 4.0+, own processes). False when the kernel or permissions refuse: the sampled maximum remains.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Milliseconds from the wall-clock time `fromEpochMs` to a log time stamp given as milliseconds
 * since midnight UTC (the nearest such moment: a run that crosses midnight stays right).
 */
export function msSinceFromTimeOfDay(fromEpochMs: number, atMsOfDay: number): number {
  const day = 86_400_000;
  const midnight = fromEpochMs - (fromEpochMs % day);
  let diff = midnight + atMsOfDay - fromEpochMs;
  if (diff < -day / 2) diff += day;
  else if (diff > day / 2) diff -= day;
  return diff;
}
