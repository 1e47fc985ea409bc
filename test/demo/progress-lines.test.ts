// Progress of the demo when stderr is not a terminal (npm start under CI or piped): a line at
// once, then where the run is every few seconds, before the result.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { demoProgressLines } from '../../src/demo/report.ts';
import type { DemoProgress } from '../../src/demo/run-demo.ts';
import type { RepeatEvery } from '../../src/util/progress.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function progress(over: Partial<DemoProgress>): DemoProgress {
  return {
    phase: 'running',
    nodes: 4,
    nodesListening: 4,
    linksUp: 6,
    expectedLinks: 6,
    deliveries: 0,
    expectedDeliveries: 60,
    receivedBytes: 0,
    expectedBytes: 1_200_000,
    chunksDone: 0,
    chunks: 0,
    ...over,
  };
}

test('the demo’s lines say where the run is, from the latest progress, at each tick', () => {
  let tick: () => void = () => undefined;
  let at = 0;
  const every: RepeatEvery = (_ms, t) => {
    tick = t;
    return () => undefined;
  };
  const out: string[] = [];
  const lines = demoProgressLines(4, {
    tty: false,
    write: (t) => out.push(t),
    now: () => at,
    every,
  });
  lines.onProgress(progress({ phase: 'connecting', linksUp: 2 }));
  at = 5000;
  tick();
  lines.onProgress(progress({ deliveries: 10 }));
  lines.onProgress(progress({ deliveries: 31, receivedBytes: 612_000 }));
  at = 10_000;
  tick();
  lines.onProgress(progress({ phase: 'stopping' }));
  lines.stop();
  tick();
  assert.deepEqual(out, [
    'demo: starting 4 nodes, 0.0 s\n',
    'demo: connecting, 2/6 links up, 5.0 s\n',
    'demo: 31/60 delivered (612.0 kB of 1.2 MB), 10.0 s\n',
  ]);
});

test('demo with stderr not a terminal prints progress before its result', async () => {
  // stdout and stderr both into one file: the order of what the demo wrote is kept.
  const dir = mkdtempSync(join(tmpdir(), 'demo-progress-'));
  const file = join(dir, 'out.txt');
  const fd = openSync(file, 'a');
  try {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--nodes', '3', '--artifacts', '6'],
      { cwd: ROOT, stdio: ['ignore', fd, fd] },
    );
    const [status] = (await once(child, 'close')) as [number | null];
    const out = readFileSync(file, 'utf8');
    assert.equal(status, 0, out);
    const first = out.split('\n')[0]!;
    assert.match(first, /^demo: starting 3 nodes, \d+\.\d s$/);
    const report = out.indexOf('subnet-p2p demo: broadcast');
    assert.ok(report > first.length, out);
    // Every line before the report is a progress line; no terminal control characters.
    for (const line of out.slice(0, report).trimEnd().split('\n')) {
      assert.match(line, /^demo: .+, \d+\.\d s$/);
    }
    assert.ok(!out.includes('\r') && !out.includes('\u001b'), 'no terminal control characters');
    assert.match(out, /result: complete/);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
