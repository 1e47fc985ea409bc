// Configurations that cannot silently diverge, through the daemon: a partial channels block
// keeps the default channels (posting to consensus works), `null` removes one, and two daemons
// whose channel settings differ both log and count the mismatch and show it in /v1/status.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apiFetch,
  DaemonProcess,
  freePort,
  postArtifact,
  removeTempDir,
  signedSubnet,
  startOneDaemon,
  tempDir,
  until,
  writeNodeConfig,
} from './helpers.ts';

const MIB = 1024 * 1024;

interface PeerJson {
  nodeId: string;
  state: string;
  channelConfig: 'same' | 'different' | 'unknown';
}

interface StatusJson {
  nodeId: string;
  channelConfigDigest: string;
  channels: { name: string }[];
  peers: PeerJson[];
}

async function statusOf(base: string): Promise<StatusJson> {
  const res = await apiFetch(`${base}/v1/status`);
  assert.equal(res.status, 200);
  return (await res.json()) as StatusJson;
}

describe('a channels block with a default channel set to null', () => {
  it('removes that channel, and only it', async () => {
    const { dir, daemon, base } = await startOneDaemon('subnet-p2p-channels-null-', {
      channels: { ingress: null, blocks: { lane: 'high' } },
      durable: false,
    });
    try {
      assert.deepEqual(daemon.node.channels(), ['consensus', 'blocks']);
      const res = await apiFetch(`${base}/v1/channels/ingress/artifacts`, {
        method: 'POST',
        body: new Uint8Array(1),
      });
      assert.equal(res.status, 404);
    } finally {
      await daemon.stop();
      await removeTempDir(dir);
    }
  });
});

describe('two daemons, one with a partial channels block that changes ingress', () => {
  let dir: string;
  const daemons: DaemonProcess[] = [];
  let bases: string[];
  let ids: string[];

  before(async () => {
    dir = await tempDir('subnet-p2p-channel-config-');
    const ports = [await freePort(), await freePort()];
    ({ ids } = await signedSubnet(
      dir,
      's1',
      ports.map((p) => `127.0.0.1:${p}`),
    ));
    // Node 0 names only ingress's maxArtifactBytes (a rolling change to 8 MiB); node 1 runs the
    // defaults.
    const configs = [
      await writeNodeConfig(dir, 0, ports[0]!, {
        channels: { ingress: { maxArtifactBytes: 8 * MIB } },
      }),
      await writeNodeConfig(dir, 1, ports[1]!),
    ];
    for (const c of configs) daemons.push(new DaemonProcess(c));
    bases = await Promise.all(daemons.map((d) => d.ready));
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.dispose()));
    await removeTempDir(dir);
  });

  it('keeps the consensus channel of the defaults: posting to it works', async () => {
    const s = await statusOf(bases[0]!);
    assert.deepEqual(
      s.channels.map((c) => c.name),
      ['consensus', 'ingress'],
    );
    await postArtifact(bases[0]!, 'consensus', new TextEncoder().encode('block 1'));
  });

  it('both ends log the mismatch once, count it, and show it per peer', async () => {
    const statuses = await Promise.all(
      [0, 1].map((i) =>
        until(`node ${i} linked to its peer`, async () => {
          const s = await statusOf(bases[i]!);
          return s.peers[0]?.state === 'connected' ? s : undefined;
        }),
      ),
    );
    assert.notEqual(statuses[0]!.channelConfigDigest, statuses[1]!.channelConfigDigest);
    for (const i of [0, 1]) {
      const other = 1 - i;
      const s = statuses[i]!;
      assert.equal(s.peers[0]!.nodeId, ids[other]);
      assert.equal(s.peers[0]!.channelConfig, 'different');
      // The 'node ready' line gives the same digest, and the channels.
      const ready = daemons[i]!.logs.find((l) => l.msg === 'node ready')!;
      assert.equal(ready.channelConfigDigest, s.channelConfigDigest);
      assert.deepEqual(ready.channels, ['consensus', 'ingress']);
      // Once per link: as many warnings as links counted (one, unless a loaded machine made
      // the link again); the log line may reach the test after the status does.
      const { counted, warnings } = await until(`node ${i}'s warning`, async () => {
        const metrics = await (await apiFetch(`${bases[i]}/metrics`)).text();
        const m = new RegExp(
          `^subnet_p2p_node_channel_config_mismatch_total\\{peer="${ids[other]}"\\} (\\d+)$`,
          'm',
        ).exec(metrics);
        const counted = Number(m?.[1] ?? 0);
        const warnings = daemons[i]!.logs.filter((l) =>
          /channel configuration differs/.test(String(l.msg)),
        );
        return counted >= 1 && warnings.length === counted ? { counted, warnings } : undefined;
      });
      assert.ok(counted >= 1);
      const metrics = await (await apiFetch(`${bases[i]}/metrics`)).text();
      assert.match(metrics, /^subnet_p2p_node_channel_config_mismatched_peers 1$/m);
      assert.equal(warnings[0]!.level, 40);
      assert.equal(warnings[0]!.peer, ids[other]);
      assert.equal(warnings[0]!.ours, s.channelConfigDigest);
      assert.equal(warnings[0]!.theirs, statuses[other]!.channelConfigDigest);
    }
  });
});
