// What a running node writes: pino JSON lines only, on stdout, from start to stop (the SIGTERM
// line included) and nothing on stderr; `--log-format pretty` (or `logFormat`) human lines
// instead; a SIGTERM during the start stops the node once it is up; a second signal during the
// shutdown exits 1 at once, saying so in JSON.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { within } from './helpers.ts';
import { msgIs, NodeRun, type OneNode, oneSignedNode } from './lifecycle-helpers.ts';

describe('the log lines of a node', { timeout: slow(90_000) }, () => {
  let dir: string;
  const runs: NodeRun[] = [];

  before(async () => {
    dir = await tempDir('subnet-p2p-logs-');
  });
  after(async () => {
    for (const run of runs) await run.dispose();
    await removeTempDir(dir);
  });

  /** A folder of `dir` for one test's node. */
  async function folder(name: string): Promise<string> {
    await mkdir(join(dir, name));
    return join(dir, name);
  }

  async function start(node: OneNode, args: string[] = []): Promise<NodeRun> {
    const run = new NodeRun(node.config, args);
    runs.push(run);
    return run;
  }

  it('are all JSON, on stdout, through start, SIGTERM and stop', async () => {
    const node = await oneSignedNode(await folder('json'));
    const run = await start(node);
    await run.waitForLog('node ready', msgIs('node ready'));
    run.kill('SIGTERM');
    assert.deepEqual(await within(30_000, run.exited, 'the exit'), { code: 0, signal: null });
    assert.ok(run.lines.length >= 4, run.output());
    for (const { stream, text } of run.lines) {
      assert.equal(stream, 'stdout', text);
      const entry = JSON.parse(text) as Record<string, unknown>;
      assert.equal(typeof entry.level, 'number', text);
      assert.equal(typeof entry.msg, 'string', text);
    }
    const msgs = run.logs().map((e) => e.msg);
    const order = ['node ready', 'SIGTERM: shutting down', 'node stopped'].map((m) =>
      msgs.indexOf(m),
    );
    assert.ok(order[0]! >= 0 && order[0]! < order[1]! && order[1]! < order[2]!, msgs.join('\n'));
    assert.equal(run.logs().find(msgIs('SIGTERM: shutting down'))!.signal, 'SIGTERM');
  });

  it('are human lines with --log-format pretty', async () => {
    const node = await oneSignedNode(await folder('pretty'), {
      logFormat: 'json',
    });
    const run = await start(node, ['--log-format', 'pretty']);
    await run.waitForLine('the pretty ready line', (l) =>
      / INFO \(\d+\): node ready$/.test(l.text),
    );
    run.kill('SIGTERM');
    assert.deepEqual(await within(30_000, run.exited, 'the exit'), { code: 0, signal: null });
    assert.deepEqual(run.logs(), [], 'no JSON line');
    assert.ok(run.lines.some((l) => / INFO \(\d+\): SIGTERM: shutting down$/.test(l.text)));
    assert.ok(run.lines.some((l) => /^\s+nodeId: "/.test(l.text)));
    assert.deepEqual(
      run.lines.filter((l) => l.stream === 'stderr'),
      [],
    );
  });

  it('a SIGTERM during the start: the node comes up, then stops gracefully, exit 0', async () => {
    const node = await oneSignedNode(await folder('early'));
    const run = await start(node);
    // The registry is read inside the start, before the API listens.
    await run.waitForLog('the registry line', msgIs('registry version adopted'));
    run.kill('SIGTERM');
    assert.deepEqual(await within(30_000, run.exited, 'the exit'), { code: 0, signal: null });
    const msgs = run.logs().map((e) => e.msg);
    const ready = msgs.indexOf('node ready');
    assert.ok(ready >= 0, run.output());
    assert.ok(msgs.indexOf('SIGTERM: shutting down') > ready, run.output());
    assert.equal(msgs.at(-1), 'node stopped');
  });

  it('a second signal during the shutdown: exit 1 at once, in JSON', async () => {
    // A long quiet period keeps the shutdown going while the second signal comes.
    const node = await oneSignedNode(await folder('forced'), {
      limits: { shutdownQuietMs: slow(20_000), shutdownTimeoutMs: slow(40_000) },
    });
    const run = await start(node);
    await run.waitForLog('node ready', msgIs('node ready'));
    run.kill('SIGTERM');
    await run.waitForLog('the shutdown line', msgIs('SIGTERM: shutting down'));
    run.kill('SIGINT');
    const forced = await run.waitForLog(
      'the forced line',
      msgIs('SIGINT during shutdown; exiting now'),
    );
    assert.equal(forced.entry.level, 50);
    assert.deepEqual(await within(10_000, run.exited, 'the exit'), { code: 1, signal: null });
    assert.equal(run.logs().filter(msgIs('node stopped')).length, 0);
    for (const { stream, text } of run.lines) {
      assert.equal(stream, 'stdout', text);
      JSON.parse(text);
    }
  });
});
