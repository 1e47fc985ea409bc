/**
 * The scenarios of faults: a partition that heals (`partition`), nodes that crash and restart
 * (`churn`), and a third of the nodes misbehaving — serving wrong bytes, flooding adverts of
 * artifacts that do not exist, or answering nothing (`byzantine`). Each runs the mixed workload
 * and measures how the honest, connected nodes catch up.
 * @module
 */
import { channelNumber, SlotUpdates } from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import { Lane } from '../transport/index.ts';
import { finish, mixedWorkload, runToCompletion, setup } from './scenario-harness.ts';
import { DEFAULT_NODES } from './scenario-names.ts';
import type { ScenarioOptions, SimRun } from './scenarios.ts';
import { round, summarize } from './stats.ts';

export function partition(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.partition;
  const s = setup(opts, n);
  const { net, ids, tracker } = s;
  const minority = ids.slice(0, Math.max(1, Math.floor(n / 3)));
  const inside = new Set(minority);
  const duration = 10_000 * load;
  const healAt = duration / 2;
  net.partition(minority);
  mixedWorkload(s, ids, 0, duration);
  let crossedBeforeHeal = -1;
  net.at(healAt, () => {
    crossedBeforeHeal = tracker.firsts.filter(
      (r) => inside.has(r.node) !== inside.has(r.artifact.origin),
    ).length;
    net.heal();
  });
  const at = runToCompletion(s, duration + 120_000, () => crossedBeforeHeal >= 0);
  const crossing = tracker.firsts.filter(
    (r) => inside.has(r.node) !== inside.has(r.artifact.origin) && r.artifact.at < healAt,
  );
  return finish(s, opts, load, at, wall, {
    minority: minority.length,
    healAtMs: healAt,
    deliveriesAcrossBeforeHeal: crossedBeforeHeal,
    catchUpAfterHealMs: round(at - healAt),
    crossingArtifactsAfterHealMs: summarize(crossing.map((r) => r.at - healAt)),
  });
}

export function churn(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.churn;
  // The churners are picked after the ids exist; the stable nodes originate everything.
  const s = setup(opts, n);
  const { net, ids } = s;
  const churners = ids.slice(0, Math.max(1, Math.floor(n / 4)));
  const stable = ids.filter((id) => !churners.includes(id));
  const duration = 10_000 * load;
  mixedWorkload(s, stable, 0, duration);
  let crashes = 0;
  let restarts = 0;
  let lastRestart = 0;
  let outstanding = 0;
  for (const c of churners) {
    // Two cycles: crash somewhere in each half of the run, down for 0.5-3 s.
    for (let cycle = 0; cycle < 2; cycle++) {
      const crashAt = net.rng.between(cycle * (duration / 2), (cycle + 0.8) * (duration / 2));
      const downMs = net.rng.between(500, 3000);
      outstanding++;
      net.at(crashAt, () => {
        net.crash(c);
        crashes++;
      });
      net.at(crashAt + downMs, () => {
        net.restart(c);
        restarts++;
        outstanding--;
        lastRestart = Math.max(lastRestart, net.now);
      });
    }
  }
  const at = runToCompletion(s, duration + 120_000, () => outstanding === 0);
  return finish(s, opts, load, at, wall, {
    churners: churners.length,
    crashes,
    restarts,
    lastRestartMs: round(lastRestart),
    catchUpAfterLastRestartMs: round(at - lastRestart),
  });
}

type Fault = 'wrong-bytes' | 'flood' | 'silent';

export function byzantine(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.byzantine;
  const f = Math.floor((n - 1) / 3);
  const kinds: Fault[] = ['wrong-bytes', 'flood', 'silent'];
  let faulty: Map<NodeId, Fault> = new Map();
  const s = setup(
    opts,
    n,
    (ids) => {
      faulty = new Map(ids.slice(0, f).map((id, i) => [id, kinds[i % kinds.length]!]));
      return ids.filter((id) => !faulty.has(id));
    },
    // Silent peers cost a timeout each time they are tried: 2 s, not the default 5 s.
    { downloadTimeoutMs: 2000 },
  );
  const { net, ids } = s;
  const honest = ids.filter((id) => !faulty.has(id));
  for (const [id, kind] of faulty) {
    if (kind !== 'flood') net.node(id).serve = kind;
  }
  const duration = 10_000 * load;
  mixedWorkload(s, honest, 0, duration);
  // Flooders: every 100 ms, a batch of adverts of artifacts that do not exist to each
  // neighbour, on both channels, cycling through all 10 000 slots with growing commit numbers.
  const floodBatch = Math.round((opts.floodAdvertsPerSec ?? 200) / 10);
  let floodAdverts = 0;
  const flooders =
    floodBatch > 0 ? [...faulty].filter(([, k]) => k === 'flood').map(([id]) => id) : [];
  const commits = new Map<NodeId, number>();
  for (const fl of flooders) {
    for (let t = 50; t < duration; t += 100) {
      net.at(t, () => {
        for (const [channel, lane] of [
          ['consensus', Lane.high],
          ['ingress', Lane.bulk],
        ] as const) {
          let commit = commits.get(fl) ?? 1;
          const updates = [];
          for (let i = 0; i < floodBatch; i++, commit++) {
            updates.push({
              slot: commit % 10_000,
              commit,
              advert: {
                id: net.rng.bytes(32) as Uint8Array<ArrayBuffer>,
                size: net.rng.int(1024, 1024 * 1024),
                attributes: new Uint8Array(0),
                pushed: false,
              },
              withdrawn: false,
            });
          }
          commits.set(fl, commit);
          const body = SlotUpdates.encode({ channel: channelNumber(channel), updates });
          for (const peer of net.neighbors(fl))
            if (net.inject(fl, peer, body, lane)) floodAdverts += floodBatch;
        }
      });
    }
  }
  const at = runToCompletion(s, duration + 180_000);
  const faultsSeen: Record<string, number> = {};
  for (const id of honest) {
    const obs = net.node(id).observer;
    for (const [bad, kind] of faulty) {
      faultsSeen[kind] = (faultsSeen[kind] ?? 0) + obs.get('peer_faults', { peer: bad });
    }
  }
  const retried = honest.reduce(
    (sum, id) => sum + net.node(id).observer.get('downloads', { outcome: 'retried' }),
    0,
  );
  return finish(s, opts, load, at, wall, {
    faulty: f,
    behaviours: Object.fromEntries(
      kinds.map((k) => [k, [...faulty.values()].filter((v) => v === k).length]),
    ),
    floodAdvertsPerSec: opts.floodAdvertsPerSec ?? 200,
    floodAdvertsSent: floodAdverts,
    peerFaultsCountedByHonest: faultsSeen,
    downloadsRetriedByHonest: retried,
    note: 'expected deliveries: honest artifacts at honest nodes',
  });
}
