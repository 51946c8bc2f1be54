import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { waitUntil } from '../../apps/cli/src/support/server-target';

/** A redis-server of the test's own (to pause, stop or kill), on a free port or `port`; stopped by kill(). */
export async function ownRedisServer(port?: number): Promise<{ url: string; port: number; process: ChildProcess }> {
  port ??= await closedPort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 50 });
  try {
    await waitUntil(
      async () =>
        probe.ping().then(
          () => true,
          () => false,
        ),
      'the redis-server of the test',
    );
  } finally {
    probe.disconnect();
  }
  return { url, port, process: child };
}
