import { readFileSync } from 'node:fs';

/**
 * Blocks until the process is stopped (state `T` in /proc/<pid>/stat), at most `timeoutMs`. SIGSTOP is delivered
 * asynchronously: on a loaded machine a statement sent right after kill() may still be answered. A few
 * milliseconds of busy waiting in test and chaos support, so that pause() stays synchronous for its callers.
 */
export function waitUntilStopped(pid: number, timeoutMs = 1000): void {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return; // gone, or no /proc: nothing to wait for
    }
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
  }
}
