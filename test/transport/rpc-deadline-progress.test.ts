import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { RequestTimeoutError } from '../../src/errors.ts';
import { Lane } from '../../src/transport/lanes.ts';
import { MAX_DEADLINE_EXTENSIONS, RpcEndpoint } from '../../src/transport/rpc.ts';

/** An endpoint on mocked timers whose bulk lane last received bytes at `activity.at`. */
function endpoint() {
  let now = 0;
  const activity = { at: -1e9 };
  const cancels: number[] = [];
  const rpc = new RpcEndpoint({
    maxPending: 10,
    maxInbound: 10,
    handler: undefined,
    wire: {
      sendRequest: async () => {},
      sendResponse: async () => {},
      sendCancel: async (_lane, id) => {
        cancels.push(id);
      },
    },
    laneActivity: () => activity.at,
    now: () => now,
  });
  /** Advances time by `ms`, in 10 ms steps, with the lane receiving if `busy`. */
  const advance = (ms: number, busy: boolean) => {
    for (let t = 0; t < ms; t += 10) {
      now += 10;
      if (busy) activity.at = now;
      mock.timers.tick(10);
    }
  };
  return { rpc, advance, cancels };
}

describe('request deadlines and a receiving lane', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('times out at the deadline when nothing arrives on the lane', async () => {
    const { rpc, advance, cancels } = endpoint();
    let err: unknown;
    const p = rpc.request(Lane.bulk, new Uint8Array(1), { timeoutMs: 100 }).catch((e) => {
      err = e;
    });
    advance(90, false);
    await Promise.resolve();
    assert.equal(err, undefined);
    advance(20, false);
    await p;
    assert.ok((err as unknown) instanceof RequestTimeoutError);
    assert.equal(cancels.length, 1);
  });

  it('waits longer while bytes keep arriving on the lane (the peer is answering, we are slow)', async () => {
    const { rpc, advance } = endpoint();
    let err: unknown;
    const p = rpc.request(Lane.bulk, new Uint8Array(1), { timeoutMs: 100 }).catch((e) => {
      err = e;
    });
    advance(500, true);
    await Promise.resolve();
    assert.equal(err, undefined, 'still waiting after 5 deadlines, the lane busy');
    assert.equal(rpc.pendingCount, 1);
    // The lane goes quiet: the request times out one deadline later.
    advance(110, false);
    await p;
    assert.ok((err as unknown) instanceof RequestTimeoutError);
  });

  it('each request times out at its own deadline, a sooner one sent later too (one shared timer)', async () => {
    const { rpc, advance, cancels } = endpoint();
    const timedOut: string[] = [];
    const request = (name: string, timeoutMs: number) =>
      rpc.request(Lane.bulk, new Uint8Array(1), { timeoutMs }).catch((e) => {
        assert.ok(e instanceof RequestTimeoutError);
        timedOut.push(name);
      });
    const slow = request('300 ms', 300);
    advance(50, false);
    const soon = request('100 ms', 100);
    const cancel = rpc.call(Lane.bulk, new Uint8Array(1), 200, () => assert.fail('cancelled'));
    advance(120, false); // t = 170: the 100 ms request, sent at 50, is past its deadline
    await soon;
    assert.deepEqual(timedOut, ['100 ms']);
    cancel(); // cancelled before its deadline (t = 250): never answered
    advance(120, false); // t = 290
    await Promise.resolve();
    assert.deepEqual(timedOut, ['100 ms']);
    advance(20, false); // t = 310
    await slow;
    assert.deepEqual(timedOut, ['100 ms', '300 ms']);
    assert.equal(cancels.length, 3, 'the responder is told of both timeouts and the cancel');
    assert.equal(rpc.pendingCount, 0);
  });

  it('but not forever: at most MAX_DEADLINE_EXTENSIONS more deadlines', async () => {
    const { rpc, advance } = endpoint();
    let err: unknown;
    const p = rpc.request(Lane.bulk, new Uint8Array(1), { timeoutMs: 100 }).catch((e) => {
      err = e;
    });
    advance(100 * (MAX_DEADLINE_EXTENSIONS + 1) + 20, true);
    await p;
    assert.ok((err as unknown) instanceof RequestTimeoutError);
  });
});
