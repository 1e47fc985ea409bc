// `subnet-p2p status --config F` against a running `subnet-p2p node`: the summary, --json,
// --page-url (the status page address with the token in its fragment), and the errors when the
// node does not run or its token cannot be read.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { cli, cliOk, DaemonProcess, freePort, oneNodeDir, writeConfig } from './helpers.ts';

describe('subnet-p2p status', { timeout: slow(60_000) }, () => {
  let dir: string;
  let config: string;
  let daemon: DaemonProcess;
  let base: string;

  before(async () => {
    const { dir: d, port } = await oneNodeDir('subnet-p2p-status-cli-');
    dir = d;
    config = await writeConfig(dir, 'node', {
      identityDir: 'node',
      registryFile: 'registry.json',
      subnet: 's1',
      listen: `127.0.0.1:${port}`,
      // The CLI finds the API from the config: a fixed port.
      api: `127.0.0.1:${await freePort()}`,
    });
    daemon = new DaemonProcess(config);
    base = await daemon.ready;
  });

  after(async () => {
    await daemon?.dispose();
    await removeTempDir(dir);
  });

  it('prints a summary, the JSON, or the status page address with the token', async () => {
    const summary = await cliOk(['status', '--config', config]);
    const status = JSON.parse(await cliOk(['status', '--config', config, '--json'])) as {
      nodeId: string;
      version: string;
      ready: { ready: boolean };
    };
    assert.match(summary, new RegExp(`^node +${status.nodeId}$`, 'm'));
    assert.match(summary, /^subnet +s1 \(registry version 1\)/m);
    assert.match(
      summary,
      new RegExp(`^version +${status.version.replaceAll('.', '\\.')}, up `, 'm'),
    );
    assert.match(summary, /^ready +yes$/m);
    assert.match(summary, /^peers +0 of 0 connected$/m);
    assert.match(summary, /^channel +consensus: slots 0\//m);
    assert.equal(status.ready.ready, true);
    const page = await cliOk(['status', '--config', config, '--page-url']);
    assert.equal(page, `${base}/#token=${daemon.token}`);
  });

  it('fails with exit 1 when the token cannot be read or the node is not reachable', async () => {
    const tokenFile = join(dir, 'node', 'data', 'api-token');
    const wrongUrl = await cli([
      'status',
      '--config',
      config,
      '--url',
      `http://127.0.0.1:${await freePort()}`,
    ]);
    assert.equal(wrongUrl.status, 1);
    assert.match(wrongUrl.stderr, /^error: cannot reach the node's API at .*ECONNREFUSED/m);
    await rm(tokenFile);
    const noToken = await cli(['status', '--config', config]);
    assert.equal(noToken.status, 1);
    assert.match(noToken.stderr, /cannot read the API token file .*api-token \(ENOENT\)/);
  });
});
