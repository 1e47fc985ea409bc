// bench:compare's per-stage breakdown on a tiny synthetic .cpuprofile: each sample's time goes
// to the first frame, from the sampled one up its callers, that a stage recognises.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CpuProfile,
  frameStage,
  profileStages,
  STAGES,
  sumStages,
} from '../../bench/compare/profile-stages.ts';
import { type RoundResult, stageTable } from '../../bench/compare/summary.ts';

const SRC = 'file:///work/main/src';

/**
 * (root) -> main (other) -> {_tls_wrap writev -> native writev, frame encode, scheduler pick,
 * adverts, whole fetch -> hash digest, Buffer.concat -> copy, pool, prom-client inc},
 * (garbage collector), (idle), (program).
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 20, 21, 22, 23] },
    {
      id: 2,
      callFrame: { functionName: 'main', url: 'file:///work/main/bench/x.ts' },
      children: [3, 5, 6, 7, 8, 10, 12, 13, 25],
    },
    { id: 3, callFrame: { functionName: 'Socket._writev', url: 'node:_tls_wrap' }, children: [4] },
    { id: 4, callFrame: { functionName: 'writev', url: '' } },
    { id: 5, callFrame: { functionName: 'encodeFrame', url: `${SRC}/transport/frame.ts` } },
    { id: 6, callFrame: { functionName: 'pick', url: `${SRC}/transport/send-scheduler.ts` } },
    { id: 7, callFrame: { functionName: 'onAdvert', url: `${SRC}/broadcast/core/adverts.ts` } },
    {
      id: 8,
      callFrame: { functionName: 'fetchWhole', url: `${SRC}/broadcast/core/whole.ts` },
      children: [9],
    },
    { id: 9, callFrame: { functionName: 'digest', url: 'node:internal/crypto/hash' } },
    { id: 10, callFrame: { functionName: 'concat', url: 'node:buffer' }, children: [11] },
    { id: 11, callFrame: { functionName: 'copy', url: '' } },
    { id: 12, callFrame: { functionName: 'take', url: `${SRC}/broadcast/pool.ts` } },
    {
      id: 13,
      callFrame: { functionName: 'inc', url: 'file:///work/main/node_modules/prom-client/c.js' },
    },
    { id: 20, callFrame: { functionName: '(garbage collector)', url: '' } },
    { id: 21, callFrame: { functionName: '(idle)', url: '' } },
    { id: 22, callFrame: { functionName: '(program)', url: '' } },
    // The benchmark's own: the profiler starting (inspector), the RSS sampler.
    { id: 23, callFrame: { functionName: 'post', url: 'node:inspector' }, children: [24] },
    { id: 24, callFrame: { functionName: 'dispatch', url: '' } },
    { id: 25, callFrame: { functionName: 'rss', url: '' } },
  ],
  // timeDeltas[i + 1] is the time of samples[i]; the last sample gets none.
  samples: [2, 4, 4, 5, 6, 7, 9, 8, 11, 12, 13, 20, 21, 22, 24, 25, 2],
  timeDeltas: [
    0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000, 13000, 14000,
    15000, 16000,
  ],
};

test('frames are recognised by URL and function name; unknown ones ask their caller', () => {
  assert.equal(frameStage({ functionName: 'writev', url: '' }), undefined);
  assert.equal(frameStage({ functionName: 'x', url: 'node:_tls_wrap' }), 'TLS / socket');
  assert.equal(frameStage({ functionName: 'x', url: `${SRC}/transport/link.ts` }), 'framing');
  assert.equal(frameStage({ functionName: 'x', url: `${SRC}/transport/lanes.ts` }), 'scheduler');
  assert.equal(
    frameStage({ functionName: 'x', url: `${SRC}/broadcast/core/slot-table.ts` }),
    'adverts / slots',
  );
  assert.equal(
    frameStage({ functionName: 'x', url: `${SRC}/broadcast/core/downloads.ts` }),
    'fetch / downloads',
  );
  assert.equal(frameStage({ functionName: 'x', url: `${SRC}/node/create-node.ts` }), undefined);
  // raw-pull hashes with createHash, as subnet-p2p does.
  assert.equal(frameStage({ functionName: 'createHash', url: 'node:crypto' }), 'hashing');
  assert.equal(frameStage({ functionName: 'update', url: 'node:internal/crypto/hash' }), 'hashing');
  // The compiled package, as the comparison runs it.
  const DIST = 'file:///work/main/dist';
  assert.equal(frameStage({ functionName: 'x', url: `${DIST}/transport/frame.js` }), 'framing');
  assert.equal(
    frameStage({ functionName: 'x', url: `${DIST}/broadcast/core/adverts.js` }),
    'adverts / slots',
  );
  assert.equal(frameStage({ functionName: 'x', url: `${DIST}/broadcast/pool.js` }), 'pool');
  assert.equal(frameStage({ functionName: 'x', url: `${DIST}/metrics.js` }), 'metrics');
});

test('self time by stage of a synthetic profile', () => {
  const ms = profileStages(profile);
  assert.deepEqual(Object.keys(ms), [...STAGES]);
  assert.deepEqual(ms, {
    'TLS / socket': 2 + 3, // native writev under _tls_wrap
    framing: 4,
    scheduler: 5,
    'adverts / slots': 6,
    'fetch / downloads': 8, // whole.ts itself; the digest below it is hashing
    hashing: 7,
    copies: 9, // native copy under Buffer.concat
    pool: 10,
    metrics: 11,
    GC: 12,
    idle: 13 + 14,
    benchmark: 15 + 16,
    other: 1, // main; the last sample has no duration
  });
  const twice = sumStages([profile, profile]);
  for (const s of STAGES) assert.equal(twice[s], 2 * ms[s]);
});

test('the stage table gives the share of busy samples and of CPU per MB by stage', () => {
  const stages = profileStages(profile);
  const round = {
    size: 1024,
    system: 'subnet-p2p',
    channel: 'default',
    cpuMsPerMB: 39,
    stages,
  } as RoundResult;
  const unprofiled = { size: 1024, system: 'raw-tls' } as RoundResult;
  const table = stageTable([round, unprofiled]);
  assert.match(
    table,
    /^\| Stage: % of busy samples \(CPU ms per MB\) \| 1 KiB subnet-p2p \(default\) \|$/m,
  );
  // Busy: 78 ms (idle 27 ms and the benchmark's 31 ms left out); GC 12 ms is 15.4 % of it, so
  // 6.0 of the 39 CPU ms per MB.
  assert.match(table, /^\| GC \| 15\.4 % \(6\.0\) \|$/m);
  assert.match(table, /^\| idle samples, ms \(all nodes\) \| 27 \|$/m);
  assert.match(table, /^\| busy samples, ms \(all nodes\) \| 78 \|$/m);
  assert.match(
    table,
    /^\| the benchmark's own samples \(profiler start, RSS sampler\), ms \| 31 \|$/m,
  );
  assert.doesNotMatch(table, /^\| idle \|/m);
  assert.doesNotMatch(table, /^\| benchmark \|/m);
  assert.equal(stageTable([unprofiled]), '');
});
