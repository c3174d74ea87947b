// Benchmark helper: who stalled a thread? Records every gap of a 1 ms interval timer that exceeds a
// threshold, with wall-clock start times (performance.timeOrigin + now, comparable across
// processes). The extension-host row of bench-perf runs one in its own thread and one in an idle
// process at the same time: a stall both saw at once came from the machine (the hypervisor, the
// disk under the engine's staging copy, the scheduler), not from the analysis. A timed test it is
// not: it only explains the figures the bench prints.
//
//   node out/bench/stalls.js [THRESHOLD_MS]    records until stdin ends, then prints [[start, ms], ...]

export type Stall = [startEpochMs: number, ms: number];

/** Records gaps longer than `thresholdMs` on this thread's event loop until stop(). */
export function watchStalls(thresholdMs = 10): { stop(): Stall[] } {
  const stalls: Stall[] = [];
  let last = performance.now();
  const t = setInterval(() => {
    const now = performance.now();
    if (now - last > thresholdMs) stalls.push([performance.timeOrigin + last, now - last]);
    last = now;
  }, 1);
  return {
    stop(): Stall[] {
      clearInterval(t);
      return stalls;
    },
  };
}

/**
 * The stalls of `own` that no stall of `reference` explains: a stall is shared when a reference
 * stall covers at least half of it.
 */
export function unshared(own: Stall[], reference: Stall[]): Stall[] {
  return own.filter(([s, d]) => !reference.some(([rs, rd]) => Math.min(s + d, rs + rd) - Math.max(s, rs) >= d / 2));
}

if (require.main === module) {
  const w = watchStalls(Number(process.argv[2] ?? 10));
  process.stdin.resume();
  process.stdin.on('end', () => {
    process.stdout.write(JSON.stringify(w.stop()) + '\n');
    process.exit(0);
  });
}
