import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Daemon } from '../../src/daemon/run-daemon.ts';
import { capturedLogger } from '../helpers/common.ts';
import { apiFetch, EventStreamClient, removeTempDir, startOneDaemon } from './helpers.ts';

describe('a full API limit in the log', () => {
  let dir: string | undefined;
  let daemon: Daemon | undefined;
  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('is logged once at info however many requests it refuses', async () => {
    const { logger, lines } = capturedLogger();
    let api: string;
    ({
      dir,
      daemon,
      base: api,
    } = await startOneDaemon(
      'subnet-p2p-api-limit-log-',
      { limits: { maxEventStreams: 1 } },
      { logger },
    ));
    const stream = await EventStreamClient.open(api, 'ingress');
    try {
      for (let i = 0; i < 20; i++) {
        const res = await apiFetch(`${api}/v1/channels/consensus/events`);
        assert.equal(res.status, 503);
        await res.body?.cancel();
      }
    } finally {
      stream.close();
    }
    const reached = lines.filter((l) => l.msg === 'limit reached');
    assert.equal(reached.length, 1, JSON.stringify(reached));
    assert.equal(reached[0]!.level, 30);
    assert.equal(reached[0]!.limit, 'event_streams');
    assert.equal(reached[0]!.component, 'api');
    assert.equal(reached[0]!.maxEventStreams, 1);
  });
});
