/**
 * Self time of a V8 CPU profile (`.cpuprofile`, as the inspector's `Profiler.stop` returns it)
 * by stage of the data path. Each sample is charged to the first frame, from the sampled one up
 * its callers, that a stage's rule recognises by source URL or function name, so a native
 * `writev` under `_tls_wrap` counts as TLS and a `copy` under `Buffer.concat` as copies; a
 * sample no frame of which matches is `other`. The project's own modules are recognised under
 * src/ (run through tsx) and dist/ (the compiled package, which the comparison runs).
 * @module
 */

/** One frame of a profile's call tree. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** The parts of a `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** The node (frame) of each sample. */
  samples: number[];
  /** Microseconds before each sample (the first: since startTime). */
  timeDeltas: number[];
}

/** The stages, in the order of the tables. */
export const STAGES = [
  'TLS / socket',
  'framing',
  'scheduler',
  'adverts / slots',
  'fetch / downloads',
  'hashing',
  'copies',
  'pool',
  'metrics',
  'GC',
  'idle',
  'benchmark',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

/** A frame's stage, or undefined to ask its caller. The first matching rule wins. */
export function frameStage(frame: { functionName: string; url: string }): Stage | undefined {
  const { functionName: fn, url } = frame;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return 'idle';
  // The benchmark's own work in a node process: starting the profiler (its first samples) and
  // sampling the resident set size. Neither is the system's; both are left out of the busy share.
  if (url === 'node:inspector' || (fn === 'rss' && url === '')) return 'benchmark';
  if (url.includes('prom-client')) return 'metrics';
  if (/node:internal\/crypto\/hash|createHash|\bblake|sha256/i.test(url + fn)) return 'hashing';
  if (url === 'node:buffer' && /^(concat|copy|_copy|_copyActual|from|allocUnsafe)/.test(fn)) {
    return 'copies';
  }
  if (
    /node:(_tls_wrap|_tls_common|tls|internal\/tls|net|internal\/stream_base_commons|internal\/crypto)/.test(
      url,
    )
  ) {
    return 'TLS / socket';
  }
  if (/\/(?:src|dist)\/transport\/(frame|link|links|wire-parts|messages|proto\/)/.test(url)) {
    return 'framing';
  }
  if (/\/(?:src|dist)\/transport\/(send-scheduler|lanes|load-governor)/.test(url))
    return 'scheduler';
  if (
    /\/(?:src|dist)\/broadcast\/core\/(adverts|receipts|delayed-relays|slot-table|peer-slots|holdings|tokens)/.test(
      url,
    )
  ) {
    return 'adverts / slots';
  }
  if (
    /\/(?:src|dist)\/broadcast\/(core\/(whole|downloads|fetch-response|chunk-fetches|assembly)|fetch-)/.test(
      url,
    )
  ) {
    return 'fetch / downloads';
  }
  if (/\/(?:src|dist)\/broadcast\/pool\.[jt]s/.test(url)) return 'pool';
  if (/\/(?:src|dist)\/(broadcast\/driver-metrics|transport\/metrics|metrics)\.[jt]s/.test(url)) {
    return 'metrics';
  }
  return undefined;
}

/** Self time by stage, ms (every stage present, zeros included). */
export function profileStages(profile: CpuProfile): Record<Stage, number> {
  const out = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, Stage>();
  const resolve = (id: number): Stage => {
    const known = stageOf.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let stage: Stage = 'other';
    if (node !== undefined) {
      const own = frameStage(node.callFrame);
      const up = parent.get(id);
      stage = own ?? (up === undefined ? 'other' : resolve(up));
    }
    stageOf.set(id, stage);
    return stage;
  };
  // V8 attributes timeDeltas[i + 1] to samples[i]: the time until the next sample.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    out[resolve(profile.samples[i]!)] += us / 1000;
  }
  return out;
}

/** Stages summed over several profiles (the nodes of one round), ms. */
export function sumStages(profiles: readonly CpuProfile[]): Record<Stage, number> {
  const out = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  for (const p of profiles) {
    const one = profileStages(p);
    for (const s of STAGES) out[s] += one[s];
  }
  return out;
}
