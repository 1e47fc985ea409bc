// A node the adopted registry no longer lists stops gracefully and exits 0 after
// `limits.removedGraceMs`, saying so; listed again within the grace, it carries on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  msgIs,
  NodeRun,
  type OneNode,
  oneSignedNode,
  relist,
  unlist,
} from './lifecycle-helpers.ts';

/** The grace: long enough to write and adopt the next version within it on a busy machine. */
const GRACE_MS = slow(2000);

describe('a node removed from the registry', { timeout: slow(90_000) }, () => {
  let dir: string;
  let node: OneNode;
  let run: NodeRun;

  before(async () => {
    dir = await tempDir('subnet-p2p-removed-');
    node = await oneSignedNode(dir, { limits: { removedGraceMs: GRACE_MS } });
    run = new NodeRun(node.config);
    await run.waitForLog('node ready', msgIs('node ready'));
  });
  after(async () => {
    await run?.dispose();
    await removeTempDir(dir);
  });

  it('carries on when listed again within the grace, and exits 0 after it otherwise', async () => {
    const waiting = (version: number) =>
      msgIs(
        `removed from registry version ${version}: exiting in ${GRACE_MS} ms unless listed again`,
      );

    // Removed in version 2, listed again in version 3 within the grace.
    const v2 = await unlist(node);
    const removed2 = await run.waitForLog(`the warning of version ${v2}`, waiting(v2));
    assert.equal(removed2.entry.level, 40);
    const v3 = await relist(node);
    const back = await run.waitForLog(
      `listed again in ${v3}`,
      msgIs(`listed again in registry version ${v3}`),
      {
        from: removed2.index,
      },
    );

    // Removed again in version 4: the exit names version 4 (version 2's timer was cancelled,
    // else it would have fired first and named version 2) and comes a grace after it.
    const v4 = await unlist(node);
    const removed4 = await run.waitForLog(`the warning of version ${v4}`, waiting(v4), {
      from: back.index,
    });
    const warnedAt = removed4.entry.time as number;
    const exit = await run.waitForLog('the exit line', msgIs(/; exiting$/), { from: back.index });
    assert.equal(exit.entry.msg, `removed from registry version ${v4}; exiting`);
    assert.equal(exit.entry.level, 40);
    assert.ok((exit.entry.time as number) - warnedAt >= GRACE_MS - 5, JSON.stringify(exit.entry));
    // A graceful stop, then exit code 0 (Restart=on-failure leaves it stopped).
    await run.waitForLog('node stopped', msgIs('node stopped'), { from: exit.index });
    assert.deepEqual(await run.exited, { code: 0, signal: null });
    assert.equal(run.logs().filter(msgIs(/; exiting$/)).length, 1);
  });
});
