import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseDaemonConfig } from '../../src/daemon/config.ts';
import { type Daemon, startDaemon } from '../../src/daemon/run-daemon.ts';
import {
  apiFetch,
  EventStreamClient,
  oneNodeDir,
  registerApiToken,
  removeTempDir,
} from './helpers.ts';

describe('a full API limit in the log', () => {
  let dir: string | undefined;
  let daemon: Daemon | undefined;
  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('is logged once at info however many requests it refuses', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const l of chunk.toString('utf8').split('\n')) {
            if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
          }
          done();
        },
      }),
    );
    let port: number;
    ({ dir, port } = await oneNodeDir('subnet-p2p-api-limit-log-'));
    const config = parseDaemonConfig(
      {
        identityDir: 'node',
        registryFile: 'registry.json',
        subnet: 's1',
        listen: `127.0.0.1:${port}`,
        api: '127.0.0.1:0',
        limits: { maxEventStreams: 1 },
      },
      dir,
    );
    daemon = await startDaemon(config, { logger });
    registerApiToken(daemon.apiUrl, daemon.apiToken);
    const api = daemon.apiUrl;
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
