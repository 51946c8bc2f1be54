import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchTable } from './bench-table';

type Variant = 'without' | 'with' | 'with request context';
const FEW = 550;
const MANY = 3050;

/** Instructions the probe process ran (callgrind counts instructions, not time: the same on a busy machine). */
async function instructions(variant: Variant, requests: number): Promise<number> {
  const { stderr } = await promisify(execFile)(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      '--smc-check=all-non-file',
      process.execPath,
      join(__dirname, 'http-requests-probe.js'),
      variant === 'without' ? 'without' : 'with',
      String(requests),
    ],
    {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, PROBE_OPTIONS: variant === 'with request context' ? '{"requestContext":true}' : '{}' },
    },
  );
  const collected = /Collected : (\d+)/.exec(stderr)?.[1];
  if (!collected) throw new Error(`callgrind printed no count for ${variant} ${requests}`);
  return Number(collected);
}

/**
 * The module's cost per one-`SELECT 1` request in instructions: each app is run for 550 and for 3050 sequential
 * requests under callgrind and the difference divided by 2500, so that start-up and warm-up (JIT compilation,
 * which a shorter window let vary by tens of percent between runs) cancel out. It counts
 * the app's process only (the in-process client included, the same in both; MariaDB's work is not in it).
 */
export async function httpInstructionsBench(): Promise<BenchTable | BenchTable[]> {
  const available = await promisify(execFile)('valgrind', ['--version']).then(
    () => true,
    () => false,
  );
  if (!available) return [];
  const variants: Variant[] = ['without', 'with', 'with request context'];
  const perRequest: number[] = [];
  for (const variant of variants) {
    const [few, many] = await Promise.all([instructions(variant, FEW), instructions(variant, MANY)]);
    perRequest.push((many - few) / (MANY - FEW));
  }
  const [base] = perRequest;
  const thousands = (n: number) => `${(n / 1000).toFixed(0)} k`;
  const names = [
    'the same app without the module (baseline)',
    'with DatabaseResilienceModule.forRoot()',
    'with forRoot({ requestContext: true })',
  ];
  return {
    title:
      'Instructions per HTTP request running one SELECT 1 (valgrind --tool=callgrind; steadier than time on this VM, yet JIT timing moves it by a few points between runs)',
    columns: ['app', 'instructions per request', 'over the baseline'],
    rows: perRequest.map((n, i) => [
      names[i],
      thousands(n),
      i === 0 ? '—' : `+${thousands(n - base)} (+${(((n - base) / base) * 100).toFixed(1)} %)`,
    ]),
    notes: [
      `(${MANY} − ${FEW} sequential requests) ÷ ${MANY - FEW}, on one keep-alive connection, health check off; the client's ` +
        "own instructions are in both rows, MariaDB's in neither. Target: under 5 %.",
    ],
  };
}
