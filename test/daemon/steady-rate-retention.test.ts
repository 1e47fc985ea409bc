// Issue 14, "never wedge": four `subnet-p2p node` daemons with the default configuration (no
// channel settings: maxSlots 10 000, maxBytes 256 MiB, maxAgeMs 10 min, peerShare 0.25) take a
// steady stream of 5 x maxSlots = 50 000 small distinct artifacts on `ingress`, spread over the
// four nodes, through the HTTP API. Before retention, every node answered 503 ERR_QUEUE_FULL
// for good after the first 10 000.
//
// Asserted: every POST got 201, but for 503s that a retry after a short back-off cleared (fewer
// than 1% of the POSTs); at the end, per node, slots used and held artifacts <= 10 000 and held
// bytes <= maxBytes (from /metrics); every artifact was announced on the event stream of each of
// the three other nodes (delivered while it was live: an evicted artifact is not fetched again).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  apiFetch,
  authHeader,
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  freePort,
  signedSubnet,
  until,
  writeNodeConfig,
} from './helpers.ts';

const N = 4;
const SUBNET = 's1';
const MAX_SLOTS = 10_000; // the default
/** Artifacts posted: 5 x the default maxSlots (SUBNET_P2P_STEADY_TOTAL overrides, for trials). */
const TOTAL = Number(process.env.SUBNET_P2P_STEADY_TOTAL ?? 5 * MAX_SLOTS);
/** Target rate, artifacts per second over all four nodes. */
const RATE = Number(process.env.SUBNET_P2P_STEADY_RATE ?? 350);
/** POSTs in flight at once, per node (keep-alive connections). */
const CONCURRENCY = Number(process.env.SUBNET_P2P_STEADY_CONCURRENCY ?? 4);
const SIZE_MIN = 100;
const SIZE_MAX = 200;

interface Member {
  nodeId: string;
  daemon: DaemonProcess;
  api: string;
}

/** One POST over a keep-alive agent: its status and body. */
function post(
  agent: Agent,
  api: string,
  body: Uint8Array,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${api}/v1/channels/ingress/artifacts`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': body.length,
          ...authHeader(api),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of a metric line `name{...channel="ingress"...}` in a /metrics text. */
function ingressMetric(text: string, name: string): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes('channel="ingress"'));
  if (line === undefined) throw new Error(`no ${name} for ingress`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

// 150-210 s on an idle machine.
describe('four daemons at a steady rate for 5 x maxSlots artifacts', {
  timeout: slow(300_000),
}, () => {
  let dir: string;
  const members: Member[] = [];
  const streams: EventStreamClient[] = [];

  before(async () => {
    dir = await tempDir('subnet-p2p-steady-');
    const ports = await Promise.all(Array.from({ length: N }, () => freePort()));
    const { ids } = await signedSubnet(
      dir,
      SUBNET,
      ports.map((port) => `127.0.0.1:${port}`),
    );
    const configs = await Promise.all(
      ids.map((_, i) =>
        // No `channels`: the defaults.
        writeNodeConfig(dir, i, ports[i]!, { subnet: SUBNET, limits: { shutdownQuietMs: 200 } }),
      ),
    );
    for (const [i, config] of configs.entries()) {
      members.push({ nodeId: ids[i]!, daemon: new DaemonProcess(config), api: '' });
    }
    for (const m of members) m.api = await m.daemon.ready;
    for (const m of members) {
      await connectedTo(
        m.api,
        members.filter((x) => x !== m).map((x) => x.nodeId),
        30_000,
      );
    }
  });

  after(async () => {
    for (const s of streams) s.close();
    await Promise.all(members.map((m) => m.daemon?.dispose()));
    await removeTempDir(dir);
  });

  it(`${TOTAL} artifacts at ${RATE}/s: all 201 (brief 503s retried), bounds held, all delivered everywhere`, async () => {
    for (const m of members) streams.push(await EventStreamClient.open(m.api, 'ingress'));
    const agents = members.map(() => new Agent({ keepAlive: true, maxSockets: CONCURRENCY }));
    /** Artifact ids posted to node i. */
    const posted: string[][] = members.map(() => []);
    let retried503 = 0;
    let next = 0;
    const started = performance.now();
    // Artifact k is due at started + k / RATE; each worker takes the next one when it is due.
    const worker = async (node: number) => {
      const m = members[node]!;
      for (;;) {
        const k = next++;
        if (k >= TOTAL) return;
        const due = started + (k * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // Distinct: a counter in the bytes, the rest random.
        const body = randomBytes(SIZE_MIN + (k % (SIZE_MAX - SIZE_MIN + 1)));
        body.writeUInt32BE(k, 0);
        for (let attempt = 0; ; attempt++) {
          const r = await post(agents[node]!, m.api, body);
          if (r.status === 201) {
            posted[node]!.push((JSON.parse(r.text) as { id: string }).id);
            break;
          }
          assert.equal(r.status, 503, `POST ${k} to node ${node}: ${r.status} ${r.text}`);
          assert.ok(attempt < 20, `POST ${k} to node ${node}: 503 for good: ${r.text}`);
          retried503++;
          await new Promise((r) => setTimeout(r, 20 * 2 ** Math.min(attempt, 5)));
        }
      }
    };
    await Promise.all(
      members.flatMap((_, node) => Array.from({ length: CONCURRENCY }, () => worker(node))),
    );
    const postSeconds = (performance.now() - started) / 1000;
    for (const a of agents) a.destroy();

    // Every artifact announced at each of the three other nodes.
    const missing = await until(
      'every artifact delivered to every other node',
      async () => {
        let missing = 0;
        for (const [i, s] of streams.entries()) {
          const seen = new Set(s.events.map((e) => e.id));
          for (const [j, ids] of posted.entries()) {
            if (j === i) continue;
            for (const id of ids) if (!seen.has(id)) missing++;
          }
        }
        return missing === 0 ? 0 : undefined;
      },
      60_000,
    ).catch(() => -1);
    const allSeconds = (performance.now() - started) / 1000;
    const report = streams.map((s, i) => {
      const seen = new Set(s.events.map((e) => e.id));
      const expected = posted.flatMap((ids, j) => (j === i ? [] : ids));
      return `node ${i}: ${expected.filter((id) => seen.has(id)).length}/${expected.length}`;
    });
    console.log(
      `steady rate: ${TOTAL} POSTs in ${postSeconds.toFixed(1)} s (${(TOTAL / postSeconds).toFixed(0)}/s,` +
        ` target ${RATE}/s), all delivered after ${allSeconds.toFixed(1)} s; 503s retried: ${retried503};` +
        ` delivered: ${report.join(', ')}`,
    );
    assert.equal(missing, 0, `not every artifact was delivered everywhere: ${report.join(', ')}`);
    assert.equal(
      posted.reduce((n, ids) => n + ids.length, 0),
      TOTAL,
    );
    assert.ok(retried503 < TOTAL / 100, `${retried503} POSTs answered 503 first`);

    // The bounds, at every node.
    for (const [i, m] of members.entries()) {
      const text = await (await apiFetch(`${m.api}/metrics`)).text();
      const slots = ingressMetric(text, 'subnet_p2p_broadcast_slots');
      const held = ingressMetric(text, 'subnet_p2p_broadcast_held_artifacts');
      const heldLimit = ingressMetric(text, 'subnet_p2p_broadcast_held_artifacts_limit');
      const bytes = ingressMetric(text, 'subnet_p2p_broadcast_held_bytes');
      const bytesLimit = ingressMetric(text, 'subnet_p2p_broadcast_held_bytes_limit');
      const evicted = text
        .split('\n')
        .filter((l) => l.startsWith('subnet_p2p_broadcast_removed_total{') && l.includes('ingress'))
        .map((l) => l.replace('subnet_p2p_broadcast_removed_total', ''));
      console.log(
        `node ${i}: slots ${slots}, held ${held}/${heldLimit} artifacts, ${bytes}/${bytesLimit} bytes; removed ${evicted.join(', ')}`,
      );
      assert.equal(heldLimit, MAX_SLOTS);
      assert.ok(slots <= MAX_SLOTS, `node ${i}: ${slots} slots`);
      assert.ok(held <= MAX_SLOTS, `node ${i}: ${held} held`);
      assert.ok(bytes <= bytesLimit, `node ${i}: ${bytes} bytes held`);
      // It evicted: far more went through it than it holds.
      if (TOTAL > 2 * MAX_SLOTS) assert.ok(held >= MAX_SLOTS / 2, `node ${i}: only ${held} held`);
    }
  });
});
