import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkClosedError, QueueFullError } from '../../src/errors.ts';
import { Lane } from '../../src/transport/lanes.ts';
import { type OutgoingResponse, RpcEndpoint } from '../../src/transport/rpc.ts';

function endpoint(maxPending: number, maxInbound = 2) {
  const responses: OutgoingResponse[] = [];
  const rpc = new RpcEndpoint({
    maxPending,
    maxInbound,
    handler: () => new Promise<Uint8Array>(() => {}),
    wire: {
      sendRequest: async () => {},
      sendResponse: async (_lane, res) => {
        responses.push(res);
      },
      sendCancel: async () => {},
    },
  });
  return { rpc, responses };
}

describe('request/response bounds', () => {
  it('refuses a request beyond maxPendingRequests without sending it', async () => {
    const { rpc } = endpoint(2);
    const p1 = rpc.request(Lane.high, new Uint8Array(1)).catch((e) => e);
    const p2 = rpc.request(Lane.high, new Uint8Array(1)).catch((e) => e);
    await assert.rejects(rpc.request(Lane.high, new Uint8Array(1)), QueueFullError);
    assert.equal(rpc.pendingCount, 2);
    rpc.close();
    assert.ok((await p1) instanceof LinkClosedError);
    assert.ok((await p2) instanceof LinkClosedError);
    assert.equal(rpc.pendingCount, 0);
  });

  it('answers ERR_BUSY beyond maxInboundRequests and ERR_DUPLICATE_ID for an id in use', async () => {
    const { rpc, responses } = endpoint(2, 1);
    rpc.onRequest(Lane.high, { id: 1, timeoutMs: 1000, body: new Uint8Array(0) });
    rpc.onRequest(Lane.high, { id: 1, timeoutMs: 1000, body: new Uint8Array(0) });
    rpc.onRequest(Lane.high, { id: 2, timeoutMs: 1000, body: new Uint8Array(0) });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      responses.map((r) => [r.id, r.errorCode]),
      [
        [1, 'ERR_DUPLICATE_ID'],
        [2, 'ERR_BUSY'],
      ],
    );
    assert.equal(rpc.inboundCount, 1);
    rpc.close();
    assert.equal(rpc.inboundCount, 0);
  });

  it('ignores a response to an unknown id', () => {
    const { rpc } = endpoint(2);
    assert.equal(
      rpc.onResponse({ id: 99, body: new Uint8Array(0), errorCode: '', errorMessage: '' }),
      false,
    );
  });
});
