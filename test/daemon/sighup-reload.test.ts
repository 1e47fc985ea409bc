// SIGHUP on a real `subnet-p2p node`: the registry is re-read, the config file too; `logLevel`
// is applied at once, to the child loggers as well (the registry's), every other change is named
// as needing a restart, and a config that no longer loads is logged while the node runs on.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.ts';
import { addNode } from '../../src/registry/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { writeNodeConfig } from './helpers.ts';
import { editRegistry, msgIs, NodeRun, type OneNode, oneSignedNode } from './lifecycle-helpers.ts';

describe('SIGHUP reloads what it safely can', { timeout: slow(90_000) }, () => {
  let dir: string;
  let node: OneNode;
  let run: NodeRun;
  const port = () => Number(node.address.split(':')[1]);

  before(async () => {
    dir = await tempDir('subnet-p2p-sighup-');
    node = await oneSignedNode(dir);
    run = new NodeRun(node.config);
    await run.waitForLog('node ready', msgIs('node ready'));
  });
  after(async () => {
    await run?.dispose();
    await removeTempDir(dir);
  });

  /** Sends SIGHUP and waits for the reload's log line, after log index `from`. */
  async function hup(from: number) {
    run.kill('SIGHUP');
    return run.waitForLog('the reload line', msgIs(/^reload: /), { from });
  }

  /** A version with one more (never started) node of s1: a registry change that is no one's. */
  async function anotherVersion(): Promise<number> {
    const other = await generateIdentity();
    return editRegistry(node, (d) =>
      addNode(d, { subnet: 's1', address: '127.0.0.1:9', certificatePem: other.certificatePem }),
    );
  }

  const adopted = (version: number) => (e: Record<string, unknown>) =>
    e.msg === 'registry version adopted' && e.version === version;

  it('applies logLevel to every logger, names what needs a restart, keeps a bad config out', async () => {
    // 1. logLevel info -> warn, and two settings a running node cannot take.
    await writeNodeConfig(dir, 0, port(), {
      logLevel: 'warn',
      api: '127.0.0.1:4999',
      limits: { maxEventStreams: 32 },
    });
    const first = await hup(0);
    assert.equal(first.entry.level, 30);
    assert.deepEqual(first.entry.applied, ['logLevel']);
    assert.deepEqual(first.entry.restartNeeded, ['api', 'limits.maxEventStreams']);
    assert.equal(first.entry.registry, 'unchanged');
    assert.equal(first.entry.registryVersion, 1);
    assert.match(
      first.entry.msg as string,
      /applied logLevel; a restart is needed for api, limits\.maxEventStreams$/,
    );

    // 2. At warn, the registry's own logger (a child) no longer says it adopted version 2.
    const v2 = await anotherVersion();
    await writeNodeConfig(dir, 0, port(), {
      logLevel: 'info',
      api: '127.0.0.1:4999',
      limits: { maxEventStreams: 32 },
    });
    const second = await hup(first.index + 1);
    // Adopted by this SIGHUP's re-read, or by a poll before it: version 2 either way.
    assert.equal(second.entry.registryVersion, v2);
    assert.deepEqual(second.entry.applied, ['logLevel']);
    const between = run.logs().slice(first.index + 1, second.index);
    assert.equal(between.filter(adopted(v2)).length, 0, JSON.stringify(between));

    // 3. Back at info, it does say it adopted version 3 (found by the poll).
    const v3 = await anotherVersion();
    await run.waitForLog(`adoption of version ${v3}`, adopted(v3), { from: second.index + 1 });

    // 4. A config file that no longer loads: logged, and the node runs on with its config.
    await writeFile(node.config, '{"identityDir": ');
    const bad = await hup(second.index + 1);
    assert.equal(bad.entry.level, 50);
    assert.equal(bad.entry.field, 'config');
    assert.match(bad.entry.configError as string, /not valid JSON/);
    assert.deepEqual(bad.entry.applied, []);

    // 5. The file fixed: still compared with the config the process started with.
    await writeNodeConfig(dir, 0, port(), { logLevel: 'info', api: '127.0.0.1:4999' });
    const fixed = await hup(bad.index + 1);
    assert.deepEqual(fixed.entry.applied, []);
    assert.deepEqual(fixed.entry.restartNeeded, ['api']);
    assert.equal(run.child.exitCode, null);

    run.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null });
  });
});
