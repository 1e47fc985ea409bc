// Durable acceptance, end to end: an origin whose peers are all down acknowledges 25 artifacts
// (201), is SIGKILLed right after the last 201, and restarts; once its peers are back, every
// acknowledged artifact reaches every node. Without the durable store the restarted origin
// holds nothing, and none of them would arrive.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  fetched,
  freePort,
  postArtifact,
  signedSubnet,
  writeNodeConfig,
} from './helpers.ts';

const N = 3;
const SUBNET = 's1';

describe('SIGKILL of the origin right after a 201', { timeout: slow(120_000) }, () => {
  let dir: string;
  const configs: string[] = [];
  let ids: string[] = [];
  const daemons = new Set<DaemonProcess>();
  const streams: EventStreamClient[] = [];

  function start(i: number): DaemonProcess {
    const d = new DaemonProcess(configs[i]!);
    daemons.add(d);
    return d;
  }

  before(async () => {
    dir = await tempDir('subnet-p2p-sigkill-');
    const ports = await Promise.all(Array.from({ length: N }, () => freePort()));
    ({ ids } = await signedSubnet(
      dir,
      SUBNET,
      ports.map((port) => `127.0.0.1:${port}`),
    ));
    for (let i = 0; i < N; i++) {
      configs.push(
        await writeNodeConfig(dir, i, ports[i]!, {
          subnet: SUBNET,
          limits: { shutdownQuietMs: 10 },
        }),
      );
    }
  });

  after(async () => {
    for (const s of streams) s.close();
    await Promise.all([...daemons].map((d) => d.dispose()));
    await removeTempDir(dir);
  });

  it('every acknowledged artifact reaches every node once the origin and its peers restart', async () => {
    // The origin alone: no peer can have received anything before the kill.
    const origin = start(0);
    const api = await origin.ready;

    const posted: { channel: string; id: string; bytes: Buffer; attributes: Buffer }[] = [];
    for (let i = 0; i < 25; i++) {
      const channel = i % 5 === 0 ? 'consensus' : 'ingress';
      // One chunked artifact (above the 1 MiB threshold, chunks in memory: no chunkDir).
      const bytes = i === 7 ? randomBytes(1_500_000) : randomBytes(i % 2 === 0 ? 300 : 20_000);
      const attributes = Buffer.from(JSON.stringify({ height: i }));
      const id = await postArtifact(api, channel, bytes, attributes);
      posted.push({ channel, id, bytes, attributes });
    }
    origin.kill('SIGKILL');
    const exit = await origin.exited;
    assert.equal(exit.signal, 'SIGKILL');
    daemons.delete(origin);

    // Every 201 left its record under the origin's dataDir (<identityDir>/data by default).
    for (const channel of ['consensus', 'ingress']) {
      const files = await readdir(join(dir, 'node0', 'data', 'accepted', channel));
      const want = posted.filter((p) => p.channel === channel).map((p) => p.id);
      assert.deepEqual(files.sort(), want.sort(), `records of ${channel}`);
    }

    const restarted = [start(0), start(1), start(2)];
    const apis = await Promise.all(restarted.map((d) => d.ready));
    const restoredLine = restarted[0]!.logs.find((l) => l.msg === 'durable records restored');
    assert.equal(restoredLine?.restored, 25, JSON.stringify(restoredLine));
    // Attributes come back too: the event streams of a peer announce them.
    const ingressEvents = await EventStreamClient.open(apis[1]!, 'ingress');
    streams.push(ingressEvents);
    await Promise.all(
      apis.map((a, i) =>
        connectedTo(
          a,
          ids.filter((_, j) => j !== i),
          30_000,
        ),
      ),
    );

    for (const a of apis) {
      for (const p of posted) {
        assert.deepEqual(await fetched(a, p.channel, p.id, 30_000), p.bytes, `${a} ${p.id}`);
      }
    }
    // Whole artifacts keep their attributes (a chunked one restored from memory keeps them
    // too); an event may have been missed if it arrived before the stream opened.
    for (const p of posted.filter((x) => x.channel === 'ingress')) {
      const event = ingressEvents.events.find((e) => e.id === p.id);
      if (event) assert.equal(event.attributes, p.attributes.toString('base64'));
    }
  });
});
