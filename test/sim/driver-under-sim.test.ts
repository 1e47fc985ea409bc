import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DriverObserver, Validation } from '../../src/broadcast/index.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { SimNetwork, simNodeIds } from '../../src/sim/index.ts';
import { Lane } from '../../src/transport/index.ts';

/** Two nodes 50 ms apart; `validate` is the ingress channel's hook (none: accept). */
function pair(validate?: (net: SimNetwork) => () => Validation | Promise<Validation>) {
  let net: SimNetwork | undefined;
  net = new SimNetwork({
    seed: 3,
    latencyMs: [50, 50],
    channels: {
      ingress: { lane: Lane.bulk, ...(validate ? { validate: () => validate(net!)() } : {}) },
    },
  });
  const [a, b] = simNodeIds(2, net.rng) as [NodeId, NodeId];
  net.addNode(a);
  net.addNode(b);
  net.topology();
  return { net, a, b };
}

/** A hook whose verdict comes `delayMs` of virtual time after it is called. */
const later = (verdict: Validation, delayMs: number) => (net: SimNetwork) => () =>
  new Promise<Validation>((resolve) => net.at(net.now + delayMs, () => resolve(verdict)));

describe('the production driver under simulation', () => {
  it('an asynchronous validation hook delays delivery by its simulated delay', async () => {
    const deliveredAt = async (validate?: Parameters<typeof pair>[0]) => {
      const { net, a, b } = pair(validate);
      const id = net.broadcast(a, 'ingress', net.rng.bytes(1000));
      const key = `ingress:${id}`;
      assert.ok(await net.runAsync({ until: () => net.node(b).deliveries.has(key) }));
      return net.node(b).deliveries.get(key)!.at;
    };
    const sync = await deliveredAt();
    const immediate = await deliveredAt(() => () => Promise.resolve('accept'));
    const delayed = await deliveredAt(later('accept', 200));
    assert.ok(sync >= 50, `${sync} ms`);
    assert.equal(immediate, sync, 'a promise settled at once: the verdict in the same instant');
    assert.equal(delayed, sync + 200);
  });

  it('a rejecting asynchronous hook drops the artifact', async () => {
    const { net, a, b } = pair(later('reject', 200));
    const id = net.broadcast(a, 'ingress', net.rng.bytes(1000));
    const rejected = () => net.node(b).observer.get('validations', { verdict: 'reject' }) === 1;
    assert.ok(await net.runAsync({ until: rejected, maxTime: 10_000 }));
    const at = net.now;
    await net.runAsync({ maxTime: at + 5000 });
    assert.equal(net.node(b).deliveries.has(`ingress:${id}`), false);
    assert.equal(net.node(b).core.get('ingress', id), undefined);
    assert.equal(net.node(b).observer.get('peer_faults', { reason: 'rejected' }), 1);
  });

  it('the synchronous run refuses a hook that returns a promise', () => {
    const { net, a } = pair(later('accept', 10));
    net.broadcast(a, 'ingress', net.rng.bytes(1000));
    assert.throws(() => net.run({ maxTime: 10_000 }), /runAsync/);
  });

  it('a send the queue refused is resent after the backoff, in virtual time', () => {
    const net = new SimNetwork({
      seed: 4,
      latencyMs: [20, 20],
      channels: { ingress: { lane: Lane.bulk } },
      // A tiny bulk queue: while a 1 MB response waits for its flow-control window, the slot
      // updates sent behind it on the bulk lane are refused.
      bandwidth: { uploadBytesPerSec: 1_000_000, downloadBytesPerSec: 1_000_000 },
      transport: { maxQueuedBytes: { control: 64 * 1024, high: 64 * 1024, bulk: 2000 } },
    });
    const [a, b] = simNodeIds(2, net.rng) as [NodeId, NodeId];
    net.addNode(a);
    net.addNode(b);
    net.topology();
    const origin = net.node(a);
    const refused: number[] = [];
    const resent: number[] = [];
    (origin.observer as DriverObserver).sendQueueFull = () => refused.push(net.now);
    const core = origin.core;
    const onSendFailed = core.onSendFailed.bind(core);
    core.onSendFailed = (...args) => {
      resent.push(net.now);
      onSendFailed(...args);
    };
    net.broadcast(a, 'ingress', net.rng.bytes(1_000_000));
    for (let i = 0; i < 20; i++)
      net.at(100 + i * 10, () => net.broadcast(a, 'ingress', net.rng.bytes(300)));
    assert.ok(net.run({ until: () => net.node(b).deliveries.size === 21, maxTime: 30_000 }));
    assert.ok(refused.length > 0, 'some slot updates were refused');
    // The first refusal arms a resend 250 ms later; refused again, the delay doubles.
    assert.ok(resent.length >= 3, `${resent}`);
    assert.equal(resent[0]! - refused[0]!, 250);
    assert.equal(resent[1]! - resent[0]!, 500);
    assert.equal(resent[2]! - resent[1]!, 1000);
  });
});
