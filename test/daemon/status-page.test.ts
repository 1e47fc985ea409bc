// The status page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// two daemons in-process; the page of one shows the other as a connected peer, and its charts
// update as samples come in. Skipped, with the reason printed, when Chromium is missing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { parseDaemonConfig } from '../../src/daemon/config.ts';
import { type Daemon, startDaemon } from '../../src/daemon/run-daemon.ts';
import { generateIdentity, writeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { addNode, initRegistry, writeRegistryFile } from '../../src/registry/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { connectedTo, freePort } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing (apt-get install chromium)`;
if (missing) console.log(`# status page browser test skipped: ${missing}`);

describe('status page in headless Chromium', { skip: missing, timeout: slow(90_000) }, () => {
  let dir: string;
  const daemons: Daemon[] = [];
  let browser: Browser;

  before(async () => {
    dir = await tempDir('subnet-p2p-page-');
    const ids = [await generateIdentity(), await generateIdentity()];
    const ports = [await freePort(), await freePort()];
    let doc = initRegistry();
    for (const [i, id] of ids.entries()) {
      await writeIdentity(join(dir, `node${i}`), id);
      doc = addNode(doc, {
        subnet: 's1',
        address: `127.0.0.1:${ports[i]}`,
        certificatePem: id.certificatePem,
      });
    }
    await writeRegistryFile(join(dir, 'registry.json'), doc);
    for (const i of [0, 1]) {
      const config = parseDaemonConfig(
        {
          identityDir: `node${i}`,
          registryFile: 'registry.json',
          subnet: 's1',
          listen: `127.0.0.1:${ports[i]}`,
          api: '127.0.0.1:0',
          // Few consensus slots: a handful of artifacts brings the channel near its limit.
          channels: { consensus: { maxSlots: 5 }, ingress: {} },
          limits: { statusSampleMs: 250, shutdownQuietMs: 10 },
        },
        dir,
      );
      daemons.push(await startDaemon(config, { logger: silentLogger() }));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });

  after(async () => {
    await browser?.close();
    await Promise.all(daemons.map((d) => d.stop()));
    await removeTempDir(dir);
  });

  it('loads, shows the peers, and its charts update', async () => {
    const [a, b] = daemons as [Daemon, Daemon];
    const api = `http://127.0.0.1:${a.api.port}`;
    await connectedTo(api, [b.node.nodeId]);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${api}/`);

    await page.waitForSelector(`#node-id:text("${a.node.nodeId}")`);
    const row = page.locator(`#peers tr[data-node-id="${b.node.nodeId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'connected');
    assert.match((await row.textContent()) ?? '', /connected/);
    // Two add-node edits after init: version 2.
    assert.equal(await page.locator('#registry-version').textContent(), '2');

    // Every chart is there; traffic makes the lanes' and the channel's lines move.
    for (const key of ['lane-control', 'lane-high', 'lane-bulk', 'channel-consensus']) {
      await page.waitForSelector(`svg[data-chart="${key}"]`);
    }
    for (const key of ['channel-ingress', 'send-queues', 'downloads', 'refusals']) {
      await page.waitForSelector(`svg[data-chart="${key}"]`);
    }
    const chart = page.locator('svg[data-chart="lane-bulk"]');
    const before = Number(await chart.getAttribute('data-last-t'));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://127.0.0.1:${b.api.port}/v1/channels/ingress/artifacts`, {
        method: 'POST',
        body: Buffer.alloc(300_000, i),
      });
      assert.equal(res.status, 201);
    }
    // The chart is redrawn with newer samples, some of them with bulk traffic.
    // The chart is redrawn with newer samples (the page's code runs in the browser: strings).
    await page.waitForFunction(
      `Number(document.querySelector('svg[data-chart="lane-bulk"]').getAttribute('data-last-t')) > ${before}`,
    );
    // Some point of the ingress delivery line rises above the zero line (y < plot bottom, 150).
    await page.waitForFunction(`(document
      .querySelector('svg[data-chart="channel-ingress"] path[data-series="delivered to this node"]')
      ?.getAttribute('d') ?? '').split(' ').some((p) => Number(p.split(',')[1]) < 149)`);
    assert.ok(Number(await chart.getAttribute('data-points')) >= 2);
    assert.equal(await page.locator('#conn').getAttribute('class'), 'live');

    // The channels' use of their bounds: 4 of 5 consensus slots is near the limit (80%).
    const ingress = page.locator('#channels tr[data-channel="ingress"] td[data-use="slots"]');
    assert.equal(await ingress.getAttribute('data-level'), 'ok');
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${api}/v1/channels/consensus/artifacts`, {
        method: 'POST',
        body: Buffer.from(`block ${i}`),
      });
      assert.equal(res.status, 201);
    }
    const slots = page.locator('#channels tr[data-channel="consensus"] td[data-use="slots"]');
    await page.waitForSelector(
      '#channels tr[data-channel="consensus"] td[data-use="slots"][data-level="near"]',
    );
    assert.equal(await slots.textContent(), '4 / 5 (80%)');
    assert.match((await slots.getAttribute('class')) ?? '', /\bnear\b/);
    assert.match(
      (await page
        .locator('#channels tr[data-channel="ingress"] td[data-use="bytes"]')
        .textContent()) ?? '',
      /\/ 256 MiB/,
    );

    await mkdir('tmp', { recursive: true });
    await page.screenshot({ path: join('tmp', 'status-page.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
