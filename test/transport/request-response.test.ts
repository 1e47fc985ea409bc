import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortError, LinkClosedError, RemoteError, RequestTimeoutError } from '../../src/errors.ts';
import { Lane } from '../../src/transport/index.ts';
import { metricValue, startSubnet, stopAll, type TestNode } from '../helpers/subnet.ts';

/** Resolvable promises by key: the test waits on them instead of sleeping. */
class Signals {
  #waiters = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  #get(key: string) {
    let w = this.#waiters.get(key);
    if (!w) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      w = { promise, resolve };
      this.#waiters.set(key, w);
    }
    return w;
  }
  fire(key: string): void {
    this.#get(key).resolve();
  }
  when(key: string): Promise<void> {
    return this.#get(key).promise;
  }
}

describe('request/response over a link: ids, deadlines, cancellation, bounds', () => {
  let nodes: TestNode[] = [];
  const started = new Signals();
  const aborted = new Signals();

  before(async () => {
    nodes = await startSubnet(2, {
      limits: { maxInboundRequests: 4 },
      onRequest: (req) => {
        const text = Buffer.from(req.body).toString();
        // Answered at once, or failing at once: no promise.
        if (text.startsWith('now')) return req.body;
        if (text.startsWith('throw')) throw new Error(`refused ${text}`);
        return (async () => {
          if (text.startsWith('echo')) return req.body;
          // Anything else hangs until aborted.
          started.fire(text);
          await new Promise<void>((resolve) =>
            req.signal.addEventListener('abort', () => resolve()),
          );
          aborted.fire(text);
          return new Uint8Array(0);
        })();
      },
    });
  });
  after(() => stopAll(nodes));

  const peer = () => nodes[1]!.identity.nodeId;
  const a = () => nodes[0]!.transport;

  it('matches concurrent responses to their requests by id', async () => {
    // In groups of 4, the responder's concurrency bound in this test.
    for (let group = 0; group < 25; group++) {
      const bodies = [0, 1, 2, 3].map((i) => `echo ${group}.${i}`);
      const replies = await Promise.all(
        bodies.map((b, i) => a().request(peer(), i % 2 ? Lane.high : Lane.bulk, Buffer.from(b))),
      );
      assert.deepEqual(
        replies.map((r) => Buffer.from(r).toString()),
        bodies,
      );
    }
  });

  it('times out, and tells the responder to stop', async () => {
    await assert.rejects(
      a().request(peer(), Lane.high, Buffer.from('slow-1'), { timeoutMs: 50 }),
      RequestTimeoutError,
    );
    await aborted.when('slow-1');
  });

  it('cancels through an AbortSignal, and tells the responder', async () => {
    const controller = new AbortController();
    const pending = a().request(peer(), Lane.high, Buffer.from('slow-2'), {
      signal: controller.signal,
    });
    await started.when('slow-2');
    controller.abort();
    await assert.rejects(pending, AbortError);
    await aborted.when('slow-2');
    await assert.rejects(
      a().request(peer(), Lane.high, Buffer.from('echo'), { signal: AbortSignal.abort() }),
      AbortError,
    );
  });

  it('answers ERR_BUSY beyond maxInboundRequests, and serves again after', async () => {
    const controller = new AbortController();
    const hanging = Array.from({ length: 4 }, (_, i) =>
      a()
        .request(peer(), Lane.high, Buffer.from(`busy-${i}`), { signal: controller.signal })
        .catch(() => {}),
    );
    await Promise.all([0, 1, 2, 3].map((i) => started.when(`busy-${i}`)));
    await assert.rejects(
      a().request(peer(), Lane.high, Buffer.from('echo one too many')),
      (err: unknown) => err instanceof RemoteError && err.remoteCode === 'ERR_BUSY',
    );
    controller.abort();
    await Promise.all([...hanging, ...[0, 1, 2, 3].map((i) => aborted.when(`busy-${i}`))]);
    const reply = await a().request(peer(), Lane.high, Buffer.from('echo again'));
    assert.equal(Buffer.from(reply).toString(), 'echo again');
    const busy = await metricValue(nodes[0]!.metrics, 'subnet_p2p_transport_requests_total', {
      outcome: 'busy',
    });
    assert.equal(busy, 1);
  });

  it('answers from a handler that returns at once, or throws at once', async () => {
    const reply = await a().request(peer(), Lane.high, Buffer.from('now 1'));
    assert.equal(Buffer.from(reply).toString(), 'now 1');
    await assert.rejects(
      a().request(peer(), Lane.bulk, Buffer.from('throw 2')),
      (err: unknown) =>
        err instanceof RemoteError &&
        err.remoteCode === 'ERR_HANDLER' &&
        err.message.includes('refused throw 2'),
    );
  });

  it('call(): the same requests without a promise; its cancel tells the responder', async () => {
    const outcome = await new Promise<{ err?: Error; body?: Uint8Array; sync: boolean }>(
      (resolve) => {
        let sync = true;
        a().call(peer(), Lane.high, Buffer.from('now 3'), 5000, (err, body) =>
          resolve({ err, body, sync }),
        );
        sync = false;
      },
    );
    assert.equal(outcome.sync, false, 'done is never called from call() itself');
    assert.equal(outcome.err, undefined);
    assert.equal(Buffer.from(outcome.body!).toString(), 'now 3');

    let called = false;
    const cancel = a().call(peer(), Lane.high, Buffer.from('slow-call'), 5000, () => {
      called = true;
    });
    await started.when('slow-call');
    cancel();
    await aborted.when('slow-call');
    assert.equal(called, false, 'a cancelled call is not answered');

    const unknown = nodes[0]!.identity.nodeId; // no link to itself
    const err = await new Promise<Error | undefined>((resolve) => {
      a().call(unknown, Lane.high, Buffer.from('now'), 5000, (e) => resolve(e));
    });
    assert.ok(err instanceof LinkClosedError, String(err));
  });

  it('fails pending requests when the link closes', async () => {
    const pending = a().request(peer(), Lane.high, Buffer.from('slow-close'));
    await started.when('slow-close');
    const rejected = assert.rejects(pending, LinkClosedError);
    await nodes[1]!.transport.stop();
    await rejected;
  });
});
