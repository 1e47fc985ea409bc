import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { FLAG_START } from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/index.ts';
import { frame, helloFrame, rawConnect } from '../helpers/raw-peer.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  fullMesh,
  identities,
  linkUp,
  metricValue,
  nextEvent,
  publish,
  registryDoc,
  startNode,
  stopAll,
  type TestNode,
} from '../helpers/subnet.ts';

// A silent peer is noticed within 400 ms on an idle machine; scaled by the slowdown factor, as
// the link between b and t must not time out while a loaded machine stalls this process.
const timing = { keepaliveIntervalMs: 50, idleTimeoutMs: slow(400) };

describe('a member that sends bad bytes loses its link; the node serves everyone else', () => {
  let b: TestNode;
  let t: TestNode;
  let raw: Awaited<ReturnType<typeof identities>>[number];

  before(async () => {
    // raw < b < t: raw dials both (by hand), b dials t.
    const ids = await identities(3);
    raw = ids[0]!;
    b = await startNode(ids[1]!, 'subnet-a', { timing, onRequest: () => Buffer.from('ok') });
    t = await startNode(ids[2]!, 'subnet-a', { timing, onRequest: () => Buffer.from('ok') });
    publish(
      [b, t],
      registryDoc([
        { subnet: 'subnet-a', identity: raw, address: '127.0.0.1:9' },
        { subnet: 'subnet-a', identity: b.identity, address: b.address },
        { subnet: 'subnet-a', identity: t.identity, address: t.address },
      ]),
    );
    await fullMesh([b, t]);
  });
  after(() => stopAll([b, t]));

  /** Connects as `raw`, completes the hello, then runs `misbehave`; returns the close reason. */
  async function misbehaving(misbehave: (s: TLSSocket) => void): Promise<string> {
    const bConn = t.transport.connId(b.identity.nodeId);
    // Why the link between b and t closed meanwhile, if it did, as either end says.
    const bLinkDowns: string[] = [];
    const offs = [
      t.transport.subscribe((e) => {
        if (e.type === 'peer-down' && e.peer === b.identity.nodeId) bLinkDowns.push(e.reason);
      }),
      b.transport.subscribe((e) => {
        if (e.type === 'peer-down' && e.peer === t.identity.nodeId) bLinkDowns.push(e.reason);
      }),
    ];
    try {
      const up = nextEvent(t.transport, (e) => e.type === 'peer-up' && e.peer === raw.nodeId);
      const socket = await rawConnect(t.address, raw);
      socket.write(helloFrame(raw.nodeId, 'subnet-a'));
      await up;
      const down = nextEvent(t.transport, (e) => e.type === 'peer-down' && e.peer === raw.nodeId);
      misbehave(socket);
      const e = await down;
      if (!socket.closed) await once(socket, 'close');
      // The other peer was served throughout, on the same link. A loaded run saw connection 5,
      // not 1: this process (b and t both) stalled while t read what raw sent, and the link
      // closed by its idle timeout (the transport now discounts its own stalls) and was made
      // again. A timeout is the machine, not the misbehaviour; any other reason fails.
      await linkUp(b.transport, t.identity.nodeId);
      const reply = await b.transport.request(t.identity.nodeId, Lane.high, Buffer.from('ping'));
      assert.equal(Buffer.from(reply).toString(), 'ok');
      if (t.transport.connId(b.identity.nodeId) !== bConn) {
        assert.ok(
          bLinkDowns.includes('idle_timeout') &&
            bLinkDowns.every((r) => r === 'idle_timeout' || r === 'goodbye_received'),
          `the link between b and t closed: ${bLinkDowns.join(', ')}`,
        );
      }
      return e.type === 'peer-down' ? e.reason : '';
    } finally {
      for (const off of offs) off();
    }
  }

  async function errors(reason: string): Promise<number> {
    return metricValue(t.metrics, 'subnet_p2p_transport_protocol_errors_total', { reason });
  }

  it('garbage bytes', async () => {
    const reason = await misbehaving((s) =>
      s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
    );
    assert.match(reason, /^protocol_error:/);
    assert.ok((await errors(reason.split(':')[1]!)) >= 1);
  });

  it('an oversized length prefix', async () => {
    const reason = await misbehaving((s) =>
      s.write(frame(Lane.bulk, 3, Buffer.alloc(0), 0xffff_fff0)),
    );
    assert.equal(reason, 'protocol_error:frame_too_large');
    assert.equal(await errors('frame_too_large'), 1);
  });

  it('a message over the message size limit', async () => {
    const reason = await misbehaving((s) => {
      const chunk = Buffer.alloc(64 * 1024);
      s.write(frame(Lane.bulk, FLAG_START, chunk));
      for (let i = 0; i < 200; i++) s.write(frame(Lane.bulk, 0, chunk));
    });
    assert.equal(reason, 'protocol_error:message_too_large');
  });

  it('an undecodable message', async () => {
    const reason = await misbehaving((s) =>
      s.write(frame(Lane.high, 3, Buffer.from([0xff, 0xff, 0xff]))),
    );
    assert.equal(reason, 'protocol_error:undecodable');
  });

  it('a truncated frame, then the connection ends', async () => {
    const reason = await misbehaving((s) => {
      s.end(frame(Lane.high, 3, Buffer.alloc(50), 100));
    });
    assert.equal(reason, 'protocol_error:truncated');
    assert.equal(await errors('truncated'), 1);
  });

  it('a peer that goes silent (dead-peer detection)', async () => {
    const reason = await misbehaving(() => {});
    assert.equal(reason, 'idle_timeout');
    assert.equal(await errors('stalled_frame'), 0);
  });

  it('a peer that stops in the middle of a frame', async () => {
    const reason = await misbehaving((s) => s.write(frame(Lane.high, 3, Buffer.alloc(50), 100)));
    assert.equal(reason, 'idle_timeout');
    assert.equal(await errors('stalled_frame'), 1);
  });
});
