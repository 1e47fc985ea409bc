/**
 * The `large` scenario: one artifact of 64 MiB (by default), cut into chunks, from one origin to
 * every other node over 100 Mbit/s links; how long until all hold it against one upload of it
 * (ideal) and against the origin sending it to each node in turn (star), and how much of it the
 * origin itself served.
 * @module
 */
import type { ChannelConfig } from '../broadcast/index.ts';
import { DEFAULT_CHUNKING } from '../broadcast/index.ts';
import { Lane } from '../transport/index.ts';
import type { Bandwidth } from './bandwidth.ts';
import { finish, runToCompletion, setup } from './scenario-harness.ts';
import { DEFAULT_NODES } from './scenario-names.ts';
import type { ScenarioOptions, SimRun } from './scenarios.ts';
import { round } from './stats.ts';

/** large: 100 Mbit/s each way, a node's uplink in a WAN subnet. */
export const LARGE_BANDWIDTH: Bandwidth = {
  uploadBytesPerSec: 12_500_000,
  downloadBytesPerSec: 12_500_000,
};

export function large(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.large;
  const size = opts.artifactBytes ?? 64 * 1024 * 1024;
  const chunkBytes = opts.chunkBytes ?? 1024 * 1024;
  const chunks = Math.max(1, Math.ceil(size / chunkBytes));
  const channels: Record<string, Partial<ChannelConfig>> = {
    large: {
      lane: Lane.bulk,
      maxArtifactBytes: Math.max(size, 4 * 1024 * 1024),
      priority: () => ({ fetch: 0 }),
      chunking: {
        ...DEFAULT_CHUNKING,
        chunkBytes,
        maxChunkBytes: Math.max(chunkBytes, DEFAULT_CHUNKING.maxChunkBytes),
        maxManifestBytes: Math.max(DEFAULT_CHUNKING.maxManifestBytes, 17 + 32 * chunks),
      },
    },
  };
  const s = setup(
    { ...opts, bandwidth: opts.bandwidth ?? LARGE_BANDWIDTH },
    n,
    undefined,
    undefined,
    channels,
  );
  const { net, ids, tracker } = s;
  const origin = ids[0]!;
  tracker.schedule(0, origin, 'large', size, 'large', { chunkBytes });
  const rate = s.bandwidth.uploadBytesPerSec;
  const idealMs = (size / rate) * 1000;
  const starMs = (n - 1) * idealMs;
  const at = runToCompletion(s, 2 * starMs + 120_000);
  const allHold = tracker.firsts.length > 0 ? Math.max(...tracker.firsts.map((r) => r.at)) : 0;
  const allHoldMs = tracker.complete ? allHold - (tracker.sent[0]?.at ?? 0) : Number.NaN;
  const nodes = net.nodes();
  const o = net.node(origin);
  const sum = (f: (x: (typeof nodes)[number]) => number) => nodes.reduce((t, x) => t + f(x), 0);
  return finish(s, opts, load, at, wall, {
    artifactBytes: size,
    chunkBytes,
    chunks,
    uploadBytesPerSec: rate,
    allHoldMs: round(allHoldMs),
    idealMs: round(idealMs),
    vsIdeal: round(allHoldMs / idealMs, 3),
    starMs: round(starMs),
    vsStar: round(allHoldMs / starMs, 4),
    originUploadRatio: round(o.chunkBytesServed / size, 3),
    originWireUploadRatio: round(o.uploadBytes / size, 3),
    chunksServed: sum((x) => x.chunksServed),
    duplicateChunkFetches: sum((x) => x.duplicateChunks),
    chunkFaults: sum((x) => x.observer.get('chunks', { outcome: 'faulty' })),
    chunkRetries: sum((x) => x.observer.get('chunks', { outcome: 'retried' })),
    complete: tracker.complete,
    note: 'ideal = one upload of the artifact at the uplink rate (S/R); star = (n-1) S/R; originUploadRatio = chunk bytes the origin served / S',
  });
}
