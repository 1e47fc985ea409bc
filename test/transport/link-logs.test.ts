import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { LIMIT_LOG_QUIET_MS, LimitLog } from '../../src/limit-log.ts';
import { capturedLogger } from '../helpers/common.ts';
import {
  fullMesh,
  identities,
  nextEvent,
  publish,
  registryDoc,
  startNode,
  stopAll,
  type TestNode,
} from '../helpers/subnet.ts';

/** pino's number for info. */
const INFO = 30;

describe('link and membership logs at info', () => {
  let nodes: TestNode[] = [];
  afterEach(() => stopAll(nodes));

  it('logs link up and link down once each, with the peer NodeId, address and reason', async () => {
    const [low, high] = (await identities(2)) as [never, never];
    const logs = [capturedLogger(), capturedLogger()];
    const a = await startNode(low, 'subnet-a', { logger: logs[0]!.logger });
    const b = await startNode(high, 'subnet-a', { logger: logs[1]!.logger });
    nodes = [a, b];
    const doc = registryDoc([
      { subnet: 'subnet-a', identity: a.identity, address: a.address },
      { subnet: 'subnet-a', identity: b.identity, address: b.address },
    ]);
    publish(nodes, doc);
    await fullMesh(nodes);

    // Each side: one line naming the other, once per link, at info, with the component and
    // this node's id bound.
    for (const [self, peer, log] of [
      [a, b, logs[0]!],
      [b, a, logs[1]!],
    ] as const) {
      const ups = log.lines.filter((l) => l.msg === 'link up');
      assert.equal(ups.length, 1, JSON.stringify(ups));
      const up = ups[0]!;
      assert.equal(up.level, INFO);
      assert.equal(up.peer, peer.identity.nodeId);
      assert.equal(up.node, self.identity.nodeId);
      assert.equal(up.component, 'transport');
      assert.equal(up.address, peer.address);
      assert.equal(up.connId, self.transport.connId(peer.identity.nodeId));
      assert.equal(up.direction, self === a ? 'outbound' : 'inbound');
      const changed = log.lines.filter((l) => l.msg === 'peers changed');
      assert.equal(changed.length, 1);
      assert.deepEqual(changed[0]!.added, [
        { nodeId: peer.identity.nodeId, address: peer.address },
      ]);
      assert.deepEqual(changed[0]!.removed, []);
    }

    // b leaves the registry: a logs the membership change and the link's end, once each.
    const down = nextEvent(a.transport, (e) => e.type === 'peer-down');
    const bDown = nextEvent(b.transport, (e) => e.type === 'peer-down');
    publish(
      [a],
      registryDoc(
        [{ subnet: 'subnet-a', identity: a.identity, address: a.address }],
        doc.version + 1,
      ),
    );
    await Promise.all([down, bDown]);
    const aDowns = logs[0]!.lines.filter((l) => l.msg === 'link down');
    assert.equal(aDowns.length, 1, JSON.stringify(aDowns));
    assert.equal(aDowns[0]!.level, INFO);
    assert.equal(aDowns[0]!.peer, b.identity.nodeId);
    assert.equal(aDowns[0]!.address, b.address);
    assert.equal(aDowns[0]!.reason, 'removed_from_registry');
    assert.equal(typeof aDowns[0]!.upMs, 'number');
    const changes = logs[0]!.lines.filter((l) => l.msg === 'peers changed');
    assert.equal(changes.length, 2);
    assert.deepEqual(changes[1]!.removed, [b.identity.nodeId]);
    assert.equal(changes[1]!.neighbors, 0);
    // b heard a's Goodbye.
    const bDowns = logs[1]!.lines.filter((l) => l.msg === 'link down');
    assert.equal(bDowns.length, 1);
    assert.equal(bDowns[0]!.peer, a.identity.nodeId);
    assert.equal(bDowns[0]!.reason, 'goodbye_received');
    assert.equal(logs[1]!.lines.filter((l) => l.msg === 'link up').length, 1);
  });
});

describe('LimitLog', () => {
  it('logs a limit once per spell, per limit and scope, and again after a quiet spell', () => {
    const { logger, lines } = capturedLogger();
    let now = 0;
    const limits = new LimitLog(logger, { now: () => now });
    for (let i = 0; i < 1000; i++) {
      limits.reached('pool', 'ingress', { channel: 'ingress' });
      now += 10; // a hit every 10 ms: one spell
    }
    limits.reached('pool', 'consensus');
    limits.reached('slots', 'ingress');
    assert.deepEqual(
      lines.map((l) => [l.msg, l.level, l.limit, l.scope]),
      [
        ['limit reached', INFO, 'pool', 'ingress'],
        ['limit reached', INFO, 'pool', 'consensus'],
        ['limit reached', INFO, 'slots', 'ingress'],
      ],
    );
    assert.equal(lines[0]!.channel, 'ingress');
    // Just under the quiet period: still the same spell.
    now += LIMIT_LOG_QUIET_MS - 20;
    limits.reached('pool', 'ingress');
    assert.equal(lines.length, 3);
    // A full quiet period: the next hit starts a new spell, and says how long the last one was.
    now += LIMIT_LOG_QUIET_MS;
    limits.reached('pool', 'ingress');
    assert.equal(lines.length, 4);
    assert.equal(lines[3]!.previousSpellHits, 1001);
  });
});
