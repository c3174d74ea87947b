// The stall watchdog of an export stream (both readers: dockerode's in src/engine/transport.ts and the
// raw one in src/engine/rawExport.ts): calls onStall once no bytes came for idleMs while the reader
// wanted more. A reader that is behind (full buffer, paused socket) is not the engine stalling.
export interface IdleWatch {
  /** Bytes came, or the reader asked for more. */
  touch(): void;
  /** The stream ended (or failed): no more checks. */
  stop(): void;
}

export function watchIdle(idleMs: number, o: { readerBehind(): boolean; onStall(): void }): IdleWatch {
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const stalled = (): boolean => {
    if (o.readerBehind()) last = Date.now();
    return !stopped && Date.now() - last >= idleMs;
  };
  const later = (): void => { timer = setTimeout(check, Math.max(50, idleMs - (Date.now() - last))); };
  const check = (): void => {
    timer = undefined;
    if (stopped) return;
    if (!stalled()) { later(); return; }
    // Timers run before I/O callbacks: if this process was busy, data may be waiting. Let pending
    // I/O run (setImmediate comes after the poll phase) before calling the engine stalled.
    setImmediate(() => {
      if (stopped) return;
      if (!stalled()) { later(); return; }
      stopped = true;
      o.onStall();
    });
  };
  if (idleMs > 0) timer = setTimeout(check, idleMs);
  return {
    touch: () => { last = Date.now(); },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
