// The daemon's durable store of accepted artifacts: records written and fsynced, read back at a
// start, expired ones deleted, removed with their artifact, corrupt ones counted and set aside.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type ArtifactId, artifactId, type Channel } from '../../src/broadcast/index.ts';
import { removeRecordsOnRemoval, restoreAccepted } from '../../src/daemon/durable-accept.ts';
import { DurableStore, RECORD_HEADER_BYTES } from '../../src/daemon/durable-store.ts';
import { DaemonMetrics } from '../../src/daemon/metrics.ts';
import { ArtifactExpiredError, DurableWriteError, QueueFullError } from '../../src/errors.ts';
import type { Node } from '../../src/node/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';

const MAX_AGE = 600_000;

/** A logger that keeps its lines. */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = registry.getSingleMetric(name)!;
  const { values } = await metric.get();
  const hit = values.find(
    (v) =>
      Object.entries(labels).every(([k, x]) => v.labels[k] === x) &&
      (!name.endsWith('_seconds') || (v as { metricName?: string }).metricName === `${name}_count`),
  );
  return hit?.value ?? 0;
}

/** A stand-in for a node: channels that record their broadcasts and can remove artifacts. */
function fakeNode(maxAgeMs = MAX_AGE) {
  const broadcasts: {
    channel: string;
    bytes: Uint8Array;
    attributes?: Uint8Array;
    ageMs?: number;
  }[] = [];
  const listeners = new Map<string, ((id: ArtifactId, reason: string) => void)[]>();
  let refuse: Error | undefined;
  const channel = (name: string) =>
    ({
      name,
      stats: () => ({ maxAgeMs }),
      broadcast(bytes: Uint8Array, opts: { attributes?: Uint8Array; ageMs?: number } = {}) {
        if (refuse) throw refuse;
        broadcasts.push({ channel: name, bytes, ...opts });
        return artifactId(bytes);
      },
      onRemoved(l: (id: ArtifactId, reason: string) => void) {
        listeners.set(name, [...(listeners.get(name) ?? []), l]);
        return () => undefined;
      },
    }) as unknown as Channel;
  const node = { channels: () => ['ingress'], channel } as unknown as Node;
  return {
    node,
    broadcasts,
    remove: (id: ArtifactId, reason: string) => {
      for (const l of listeners.get('ingress') ?? []) l(id, reason);
    },
    refuseWith: (err: Error | undefined) => {
      refuse = err;
    },
  };
}

describe('durable store', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('subnet-p2p-durable-');
  });
  after(async () => {
    await removeTempDir(dir);
  });

  let n = 0;
  async function fresh(now?: () => number) {
    const registry = new Registry();
    const metrics = new DaemonMetrics(registry, ['ingress']);
    const { logger, lines } = recordingLogger();
    const data = join(dir, `d${n++}`);
    const store = new DurableStore(data, { logger, metrics, now });
    await store.init(['ingress']);
    return { store, registry, metrics, logger, lines, data };
  }

  it('writes a record with a temporary name, fsyncs it and its folder, and reads it back', async () => {
    const { store, registry } = await fresh(() => 1_000_000);
    const bytes = randomBytes(5000);
    const id = artifactId(bytes);
    await store.write('ingress', id, 'whole', bytes, Uint8Array.of(1, 2, 3));
    assert.deepEqual(await readdir(join(store.dir, 'ingress')), [id], 'no temporary file left');
    const file = await readFile(store.pathOf('ingress', id));
    assert.equal(file.length, RECORD_HEADER_BYTES + 3 + bytes.length);
    assert.equal(
      await value(registry, 'subnet_p2p_daemon_durable_writes_total', { outcome: 'ok' }),
      1,
    );
    // The file, then the folder after the rename (init's probe was not timed).
    assert.equal(await value(registry, 'subnet_p2p_daemon_durable_fsync_seconds'), 2);

    const scan = await store.scan('ingress', MAX_AGE);
    assert.equal(scan.live.length, 1);
    const [r] = scan.live as [(typeof scan.live)[0]];
    assert.equal(r.id, id);
    assert.equal(r.kind, 'whole');
    assert.equal(r.createdAt, 1_000_000);
    assert.deepEqual([...r.attributes], [1, 2, 3]);
    assert.deepEqual(Buffer.from(await store.readWhole(r)), bytes);

    // The same artifact again keeps its first record (and its creation time).
    await store.write('ingress', id, 'whole', bytes, Uint8Array.of(1, 2, 3), 5);
    assert.equal((await store.scan('ingress', MAX_AGE)).live[0]!.createdAt, 1_000_000);
  });

  it('streams a chunked body into a record committed under its id, or discards it', async () => {
    const { store } = await fresh();
    const pieces = [randomBytes(1000), randomBytes(2000)];
    const rec = store.streamed('ingress', Uint8Array.of(9));
    const passed: Buffer[] = [];
    for await (const p of rec.tee(
      (async function* () {
        yield* pieces;
      })(),
    ))
      passed.push(p);
    assert.deepEqual(Buffer.concat(passed), Buffer.concat(pieces));
    const id = 'ab'.repeat(32) as ArtifactId;
    await rec.commit(id);
    const [r] = (await store.scan('ingress', MAX_AGE)).live;
    assert.equal(r?.kind, 'chunked');
    assert.equal(r?.bodyBytes, 3000);
    const read: Buffer[] = [];
    for await (const c of store.readChunked(r!)) read.push(c);
    assert.deepEqual(Buffer.concat(read), Buffer.concat(pieces));

    const dropped = store.streamed('ingress', new Uint8Array(0));
    for await (const _ of dropped.tee(
      (async function* () {
        yield randomBytes(10);
      })(),
    ));
    await dropped.discard();
    assert.deepEqual(await readdir(join(store.dir, 'ingress')), [id]);
  });

  it('skips and deletes expired records, and deletes temporary files of unfinished writes', async () => {
    let now = 10_000_000;
    const { store, registry } = await fresh(() => now);
    const old = randomBytes(100);
    const young = randomBytes(100);
    await store.write('ingress', artifactId(old), 'whole', old, new Uint8Array(0), now - MAX_AGE);
    await store.write('ingress', artifactId(young), 'whole', young, new Uint8Array(0), now - 1000);
    await writeFile(join(store.dir, 'ingress', '.0123.tmp'), 'half a record');
    now += 1;
    const scan = await store.scan('ingress', MAX_AGE);
    assert.equal(scan.expired, 1);
    assert.deepEqual(
      scan.live.map((r) => r.id),
      [artifactId(young)],
    );
    assert.deepEqual(await readdir(join(store.dir, 'ingress')), [artifactId(young)]);
    assert.equal(
      await value(registry, 'subnet_p2p_daemon_durable_restored_total', { outcome: 'expired' }),
      1,
    );
  });

  it('counts, logs and sets aside corrupt or partial records, never throwing', async () => {
    const { store, registry, lines, logger, metrics } = await fresh();
    const a = randomBytes(3000);
    const b = randomBytes(3000);
    const c = randomBytes(3000);
    for (const x of [a, b, c]) {
      await store.write('ingress', artifactId(x), 'whole', x, new Uint8Array(0));
    }
    // a: cut short (a torn write); b: not a record; c: right length, wrong bytes.
    await truncate(store.pathOf('ingress', artifactId(a)), RECORD_HEADER_BYTES + 100);
    await writeFile(store.pathOf('ingress', artifactId(b)), 'garbage');
    const cFile = await readFile(store.pathOf('ingress', artifactId(c)));
    cFile[cFile.length - 1]! ^= 1;
    await writeFile(store.pathOf('ingress', artifactId(c)), cFile);

    const fake = fakeNode();
    const summary = await restoreAccepted(fake.node, store, { logger, metrics });
    assert.equal(summary.corrupt, 3);
    assert.equal(summary.restored, 0);
    assert.equal(fake.broadcasts.length, 0);
    assert.equal(
      await value(registry, 'subnet_p2p_daemon_durable_restored_total', { outcome: 'corrupt' }),
      3,
    );
    assert.equal(
      lines.filter((l) => String(l.msg).startsWith('durable record unreadable')).length,
      3,
    );
    const left = (await readdir(join(store.dir, 'ingress'))).sort();
    assert.ok(
      left.every((name) => name.endsWith('.corrupt')),
      left.join(),
    );
    // Set aside: a second start finds nothing to restore.
    assert.equal((await restoreAccepted(fake.node, store, { logger })).corrupt, 0);
  });

  it('restores with the artifact age, deletes records of artifacts that leave the channel, keeps refused ones', async () => {
    let now = 50_000_000;
    const { store, logger, metrics, registry } = await fresh(() => now);
    const fake = fakeNode();
    const stop = removeRecordsOnRemoval(fake.node, store);
    const x = randomBytes(200);
    const y = randomBytes(200);
    await store.write('ingress', artifactId(x), 'whole', x, Uint8Array.of(4), now - 30_000);
    await store.write('ingress', artifactId(y), 'whole', y, new Uint8Array(0), now - 20_000);
    now += 5;
    const summary = await restoreAccepted(fake.node, store, { logger, metrics, now: () => now });
    assert.equal(summary.restored, 2);
    assert.deepEqual(
      fake.broadcasts.map((b) => [artifactId(b.bytes), b.ageMs, b.attributes?.length ?? 0]),
      [
        [artifactId(x), 30_005, 1],
        [artifactId(y), 20_005, 0],
      ],
    );
    assert.equal(
      await value(registry, 'subnet_p2p_daemon_durable_restored_total', { outcome: 'restored' }),
      2,
    );

    // x leaves the channel: its record goes.
    fake.remove(artifactId(x), 'evicted');
    await store.remove('ingress', artifactId(x)); // waits behind the listener's delete
    assert.deepEqual(await readdir(join(store.dir, 'ingress')), [artifactId(y)]);

    // A full channel refuses y: its record stays for the next start; an expiry deletes it.
    fake.refuseWith(new QueueFullError('full'));
    assert.equal((await restoreAccepted(fake.node, store, { logger })).refused, 1);
    assert.deepEqual(await readdir(join(store.dir, 'ingress')), [artifactId(y)]);
    fake.refuseWith(new ArtifactExpiredError('too old'));
    assert.equal((await restoreAccepted(fake.node, store, { logger })).expired, 1);
    assert.deepEqual(await readdir(join(store.dir, 'ingress')), []);
    stop();
  });

  it('throws a DurableWriteError naming the path when the folder cannot be written', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const { logger } = recordingLogger();
    const store = new DurableStore(file, { logger });
    await assert.rejects(store.init(['ingress']), (err: unknown) => {
      assert.ok(err instanceof DurableWriteError);
      assert.equal(err.code, 'ERR_DURABLE_WRITE');
      assert.match(err.message, /not-a-folder.*ENOTDIR/);
      return true;
    });
    const ok = await fresh();
    await rm(join(ok.store.dir, 'ingress'), { recursive: true });
    await writeFile(join(ok.store.dir, 'ingress'), 'a file where the folder was');
    const bytes = randomBytes(10);
    await assert.rejects(
      ok.store.write('ingress', artifactId(bytes), 'whole', bytes, new Uint8Array(0)),
      DurableWriteError,
    );
    assert.equal(
      await value(ok.registry, 'subnet_p2p_daemon_durable_writes_total', { outcome: 'failed' }),
      1,
    );
  });
});
