import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkOpQueue } from '../../src/broadcast/chunk-ops.ts';
import type { ChunkOp, DriverEnvironment } from '../../src/broadcast/environment.ts';
import type { ArtifactId } from '../../src/broadcast/types.ts';

/** An environment whose chunk operations complete only when the test says so. */
function manualStore() {
  const running: { label: string; done: (err?: unknown) => void }[] = [];
  const started: string[] = [];
  const env = {
    chunkOp(channel: string, id: ArtifactId, op: ChunkOp, done: (err?: unknown) => void) {
      const label = `${channel}:${id}:${op.kind}${op.kind === 'put' ? op.index : ''}`;
      started.push(label);
      running.push({ label, done });
    },
  } as unknown as DriverEnvironment;
  const finish = (label: string, err?: unknown) => {
    const i = running.findIndex((r) => r.label === label);
    assert.ok(i >= 0, `${label} is not running`);
    const [r] = running.splice(i, 1);
    r!.done(err);
  };
  return { env, started, finish };
}

const A = 'a'.repeat(64) as ArtifactId;
const B = 'b'.repeat(64) as ArtifactId;

describe('chunk-store operations, per artifact in order', () => {
  it('runs one operation of an artifact at a time, in the order asked; artifacts apart', () => {
    const { env, started, finish } = manualStore();
    const q = new ChunkOpQueue(env);
    const done: string[] = [];
    const note = (label: string) => (err?: unknown) => done.push(err ? `${label}!` : label);
    q.run('c', A, { kind: 'open', manifest: new Uint8Array(1) }, note('open'));
    q.run('c', A, { kind: 'put', index: 0, bytes: new Uint8Array(1) }, note('put0'));
    q.run('c', A, { kind: 'delete' }, note('delete'));
    q.run('c', B, { kind: 'put', index: 3, bytes: new Uint8Array(1) }, note('B put3'));
    // A's open and B's put run; A's put and delete wait.
    assert.deepEqual(started, [`c:${A}:open`, `c:${B}:put3`]);
    finish(`c:${A}:open`);
    assert.deepEqual(started.at(-1), `c:${A}:put0`);
    // A delete asked while a write runs waits for it (the write is not lost under it).
    finish(`c:${A}:put0`, new Error('disk full'));
    assert.deepEqual(started.at(-1), `c:${A}:delete`);
    finish(`c:${A}:delete`);
    finish(`c:${B}:put3`);
    assert.deepEqual(done, ['open', 'put0!', 'delete', 'B put3']);
    // The queue of an artifact is gone once empty: a new operation starts at once.
    q.run('c', A, { kind: 'open', manifest: new Uint8Array(1) }, note('open again'));
    assert.equal(started.at(-1), `c:${A}:open`);
  });
});
