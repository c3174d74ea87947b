// The editor benchmark's readers (bench/editorProbe.ts): /proc status and stat texts, picking the
// extension host among code-server's processes, and the extension's "analyzed …" log line.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { findExtensionHost, msSinceFromTimeOfDay, parseAnalyzedLines, parseBlockedLines, parseProcStatus, parseStatPgrp, parseStatPpid, sampleChildren, sampleMemory, type ProcInfo } from '../../../bench/editorProbe';

test('parseProcStatus: VmRSS and VmHWM in KiB; absent fields stay undefined', () => {
  const text = 'Name:\tnode\nVmPeak:\t 1234 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  150000 kB\nThreads:\t12\n';
  assert.deepEqual(parseProcStatus(text), { rssKiB: 150000, hwmKiB: 204800 });
  // A kernel thread has no Vm* lines.
  assert.deepEqual(parseProcStatus('Name:\tkthreadd\nState:\tS (sleeping)\n'), { rssKiB: undefined, hwmKiB: undefined });
});

test('parseStatPgrp: the group after the command name, even when the name holds spaces and parentheses', () => {
  assert.equal(parseStatPgrp('4242 (node) S 4200 4100 4100 0 -1 4194560 10 0'), 4100);
  assert.equal(parseStatPgrp('77 (we (ird) name) R 1 77 77 0 -1'), 77);
  assert.equal(parseStatPgrp('garbage'), undefined);
});

test('findExtensionHost: the --type=extensionHost member of the group; none; several is an error', () => {
  const procs: ProcInfo[] = [
    { pid: 10, pgrp: 10, cmdline: ['node', 'entry.js', '--bind-addr', '127.0.0.1:1'] },
    { pid: 11, pgrp: 10, cmdline: ['node', 'out/bootstrap-fork', '--type=fileWatcher'] },
    { pid: 12, pgrp: 10, cmdline: ['node', 'out/bootstrap-fork', '--type=extensionHost', '--transformURIs'] },
    { pid: 20, pgrp: 20, cmdline: ['node', 'out/bootstrap-fork', '--type=extensionHost'] },
  ];
  assert.equal(findExtensionHost(procs, 10), 12);
  assert.equal(findExtensionHost(procs, 30), undefined);
  assert.throws(() => findExtensionHost([...procs, { pid: 13, pgrp: 10, cmdline: ['node', '--type=extensionHost'] }], 10), /several extension hosts/);
});

test('parseAnalyzedLines: every analyzed line of the output log, with its time stamp when it has one', () => {
  const log = [
    '[20:01:02.003] Layer Lens activated',
    '[20:01:05.100] analyzed docker-archive:/b/index-200x10.tar: 2 layers in 540 ms (worker 470 ms, 0 layer(s) from the cache; this thread 11 ms in slices of at most 5 ms)',
    'analyzed img:1: 7 layers in 1200 ms (worker 1100 ms, 7 layer(s) from the cache; this thread 3 ms in slices of at most 2 ms)',
    'analyzed img:2: 3 layers in 900 ms (worker 800 ms, 0 layer(s) from the cache; this thread 4 ms in slices of at most 3 ms); analysis process peak RSS 412 MiB',
  ].join('\n');
  assert.deepEqual(parseAnalyzedLines(log), [
    { source: 'docker-archive:/b/index-200x10.tar', layers: 2, totalMs: 540, workerMs: 470, cacheHits: 0, threadMs: 11, longestSliceMs: 5, atMsOfDay: ((20 * 60 + 1) * 60 + 5) * 1000 + 100 },
    { source: 'img:1', layers: 7, totalMs: 1200, workerMs: 1100, cacheHits: 7, threadMs: 3, longestSliceMs: 2 },
    { source: 'img:2', layers: 3, totalMs: 900, workerMs: 800, cacheHits: 0, threadMs: 4, longestSliceMs: 3, analyzerPeakMiB: 412 },
  ]);
  assert.deepEqual(parseAnalyzedLines('analyzed x: 1 layers in 5 ms'), []);
});

test('sampleMemory: this process is sampled; its figures are positive and the peak is at least the largest sample', async () => {
  const s = sampleMemory(process.pid, 5);
  await new Promise((r) => setTimeout(r, 30));
  const m = s.stop();
  assert.ok(m.samples >= 2, `samples: ${m.samples}`);
  assert.ok(m.maxRssKiB > 0);
  assert.ok(m.hwmKiB >= m.maxRssKiB, `VmHWM ${m.hwmKiB} < sampled ${m.maxRssKiB}`);
});

test('parseStatPpid: the parent after the state, even when the name holds spaces and parentheses', () => {
  assert.equal(parseStatPpid('4242 (node) S 4200 4100 4100 0 -1 4194560 10 0'), 4200);
  assert.equal(parseStatPpid('77 (we (ird) name) R 1 77 77 0 -1'), 1);
  assert.equal(parseStatPpid('garbage'), undefined);
});

test('sampleChildren: the peak RSS of this process\'s matching children, and only theirs', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const grow = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(64 << 20, 1); console.log("ready"); setTimeout(() => b.length, 60_000)', 'sampled-child']);
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => 0, 60_000)', 'other-child']);
  try {
    const s = sampleChildren(process.pid, /sampled-child/, 5);
    // Sampled once the child holds its 64 MiB (a busy machine starts it slowly).
    await new Promise((r) => grow.stdout.once('data', r));
    await new Promise((r) => setTimeout(r, 50));
    const seen = s.stop();
    assert.deepEqual(seen.map((c) => c.pid), [grow.pid]);
    assert.ok(seen[0].hwmKiB > 64 * 1024, `VmHWM ${seen[0].hwmKiB} KiB`);
  } finally {
    grow.kill();
    other.kill();
  }
});

test('parseBlockedLines: the stalls the extension logged, by the time each ended', () => {
  const log = [
    '[20:01:02.003] Layer Lens activated',
    '[20:01:05.100] event loop blocked for 88 ms',
    'event loop blocked for 500 ms',
    '[00:00:00.031] event loop blocked for 31 ms',
    '[20:01:06.000] analyzed x: event loop blocked for 9 ms (not a stall line)',
  ].join('\n');
  assert.deepEqual(parseBlockedLines(log), [[((20 * 60 + 1) * 60 + 5) * 1000 + 100, 88], [31, 31]]);
});

test('msSinceFromTimeOfDay: a UTC log time stamp against a wall-clock start, also across midnight', () => {
  const start = Date.UTC(2026, 11, 7, 23, 59, 50, 0);
  assert.equal(msSinceFromTimeOfDay(start, (23 * 3600 + 59 * 60 + 55) * 1000 + 250), 5250);
  assert.equal(msSinceFromTimeOfDay(start, 3000), 13_000); // 00:00:03 the next day
  assert.equal(msSinceFromTimeOfDay(start, (23 * 3600 + 59 * 60 + 49) * 1000), -1000);
});
