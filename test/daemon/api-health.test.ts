// /healthz and /readyz of real `subnet-p2p node` processes: alive from the start; ready only
// once the adopted registry lists the node (after `registry add-node` and `sign`) and a link is
// up to at least readyPeerShare (0.5) of its neighbours. Neither needs the token.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  apiFetch,
  cliOk,
  DaemonProcess,
  freePort,
  tempDir,
  until,
  writeNodeConfig,
} from './helpers.ts';

interface ReadyJson {
  ready: boolean;
  reasons: string[];
}

/** `GET /readyz` without the token: its status and body. */
async function readyz(base: string): Promise<{ status: number; body: ReadyJson }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadyJson };
}

describe('health checks', { timeout: slow(90_000) }, () => {
  let dir: string;
  const daemons: DaemonProcess[] = [];

  before(async () => {
    dir = await tempDir('subnet-p2p-health-');
  });

  after(async () => {
    await Promise.all(daemons.map((d) => d.dispose()));
    await removeTempDir(dir);
  });

  it('not ready before the registry lists the node, nor before enough links are up', async () => {
    const registry = join(dir, 'registry.json');
    const operatorKey = join(dir, 'operator', 'operator.key');
    await Promise.all([
      cliOk(['keygen', '--out', join(dir, 'node0')]),
      cliOk(['keygen', '--out', join(dir, 'node1')]),
      cliOk(['keygen', '--operator', '--out', join(dir, 'operator')]),
    ]);
    // A signed registry that lists no node yet.
    await cliOk(['registry', 'init', '--file', registry]);
    await cliOk(['registry', 'sign', '--file', registry, '--key', operatorKey]);
    const ports = [await freePort(), await freePort()];
    const node0 = new DaemonProcess(await writeNodeConfig(dir, 0, ports[0]!));
    daemons.push(node0);
    const base0 = await node0.ready;

    const health = await fetch(`${base0}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const unlisted = await readyz(base0);
    assert.equal(unlisted.status, 503);
    assert.equal(unlisted.body.ready, false);
    assert.match(
      unlisted.body.reasons.join('; '),
      /not listed in subnet 's1' of registry version 0/,
    );
    // /v1/status says the same.
    const status = (await (await apiFetch(`${base0}/v1/status`)).json()) as { ready: ReadyJson };
    assert.deepEqual(status.ready, unlisted.body);

    // Both nodes added, each version signed in the same step (an unsigned edit of a signed
    // registry is refused): node 0 is listed, but its one neighbour is down.
    for (const i of [0, 1]) {
      await cliOk([
        ...['registry', 'add-node', '--file', registry, '--subnet', 's1', '--key', operatorKey],
        ...['--address', `127.0.0.1:${ports[i]}`, '--cert', join(dir, `node${i}`, 'node.crt')],
      ]);
    }
    const alone = await until('node 0 to adopt the registry listing it', async () => {
      const r = await readyz(base0);
      return r.body.reasons.some((x) => /links up to 0 of 1 neighbours/.test(x)) ? r : undefined;
    });
    assert.equal(alone.status, 503);
    assert.deepEqual(alone.body.reasons, [
      'links up to 0 of 1 neighbours; readyPeerShare 0.5 needs 1',
    ]);

    // Its neighbour starts: a link is up to 1 of 1, and both nodes are ready.
    const node1 = new DaemonProcess(await writeNodeConfig(dir, 1, ports[1]!));
    daemons.push(node1);
    const base1 = await node1.ready;
    for (const base of [base0, base1]) {
      const ready = await until(`${base} ready`, async () => {
        const r = await readyz(base);
        return r.status === 200 ? r : undefined;
      });
      assert.deepEqual(ready.body, { ready: true, reasons: [] });
    }
  });
});
