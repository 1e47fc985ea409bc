// The status page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// two daemons in-process. Without a token the page says how to get one; with `#token=` in the
// URL it takes the token out of the address bar, shows the node now (version, uptime,
// readiness, links, channels against their limits), labelled time axes, its charts update as
// samples come in, and a limit at 80% or more is warned about. Every wait is on a DOM
// condition. Skipped, with the reason printed, when Chromium is missing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { parseDaemonConfig } from '../../src/daemon/config.ts';
import { type Daemon, startDaemon } from '../../src/daemon/run-daemon.ts';
import { generateIdentity, writeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { addNode, initRegistry, writeRegistryFile } from '../../src/registry/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { freePort, until } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing (apt-get install chromium)`;
if (missing) console.log(`# status page browser test skipped: ${missing}`);

const VERSION = (
  JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** maxSlots of the consensus channel: 9 artifacts use 90% of it. */
const CONSENSUS_SLOTS = 10;
/** maxSlots of the ingress channel: one peer may hold 5 of them (default peerShare 0.25). */
const INGRESS_SLOTS = 20;

describe('status page in headless Chromium', { skip: missing, timeout: slow(90_000) }, () => {
  let dir: string;
  const daemons: Daemon[] = [];
  /** Each daemon's API token, read from `<dataDir>/api-token` as an operator would. */
  const tokens: string[] = [];
  let browser: Browser;

  /** A fetch of daemon `i`'s API with its token. */
  const api = (i: number, path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${daemons[i]!.api.port}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${tokens[i]}`, ...init.headers },
    });

  const newPage = async (): Promise<{ page: Page; errors: string[] }> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    page.setDefaultTimeout(slow(30_000));
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    return { page, errors };
  };

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
          // Few slots: a handful of artifacts brings a channel, or a peer's share of it, near
          // its limit.
          channels: {
            consensus: { maxSlots: CONSENSUS_SLOTS },
            ingress: { maxSlots: INGRESS_SLOTS },
          },
          limits: { statusSampleMs: 250, shutdownQuietMs: 10 },
        },
        dir,
      );
      daemons.push(await startDaemon(config, { logger: silentLogger() }));
      // The default dataDir is <identityDir>/data; the file ends with a newline.
      tokens.push((await readFile(join(dir, `node${i}`, 'data', 'api-token'), 'utf8')).trim());
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });

  after(async () => {
    await browser?.close();
    await Promise.all(daemons.map((d) => d.stop()));
    await removeTempDir(dir);
  });

  it('without a token, or with a wrong one, says how to get the URL; the URL restarts it', async () => {
    const { page, errors } = await newPage();
    const base = `http://127.0.0.1:${daemons[0]!.api.port}`;
    await page.goto(`${base}/`);
    await page.waitForSelector('#auth:not([hidden])');
    const text = (await page.locator('#auth').textContent()) ?? '';
    assert.match(text, /no access token/);
    assert.match(text, /subnet-p2p status --config <file> --page-url/);
    assert.equal(await page.locator('#conn').textContent(), 'no access');
    assert.equal(await page.locator('#node-id').textContent(), '…');

    // A token of an earlier start: refused (401), the page says so and forgets it.
    await page.goto(`${base}/#token=${'0'.repeat(64)}`);
    await page.waitForSelector('#auth:not([hidden]) #auth-reason:text("refused")');
    assert.equal(new URL(page.url()).hash, '');
    assert.equal(await page.evaluate('sessionStorage.length'), 0);
    assert.equal(await page.locator('#node-id').textContent(), '…');

    // The right URL pasted into the same tab (only the fragment changes: no reload) restarts it.
    await page.evaluate('window.sameDocument = true');
    await page.goto(`${base}/#token=${tokens[0]}`);
    await page.waitForSelector(`#node-id:text("${daemons[0]!.node.nodeId}")`);
    assert.equal(await page.evaluate('window.sameDocument'), true);
    assert.equal(await page.locator('#auth').isHidden(), true);
    assert.equal(new URL(page.url()).hash, '');
    await page.close();
    assert.deepEqual(errors, []);
  });

  it('shows the node now, labelled axes, updating charts, and warns near a limit', async () => {
    const [a, b] = daemons as [Daemon, Daemon];
    const base = `http://127.0.0.1:${a.api.port}`;
    await until('a connected to b', async () => {
      const s = (await (await api(0, '/v1/status')).json()) as {
        peers: { state: string }[];
        ready: { ready: boolean };
      };
      return s.peers[0]?.state === 'connected' && s.ready.ready ? s : undefined;
    });
    const { page, errors } = await newPage();
    await page.goto(`${base}/#token=${tokens[0]}`);

    await page.waitForSelector(`#node-id:text("${a.node.nodeId}")`);
    // The token left the address bar (and history); the tab keeps it in sessionStorage.
    assert.equal(new URL(page.url()).hash, '');
    assert.ok(!page.url().includes(tokens[0]!));
    assert.equal(await page.evaluate(`sessionStorage.getItem('subnet-p2p-api-token')`), tokens[0]);
    assert.equal(await page.locator('#auth').isHidden(), true);
    // A reload finds the token in sessionStorage.
    await page.reload();
    await page.waitForSelector(`#node-id:text("${a.node.nodeId}")`);

    const row = page.locator(`#peers tr[data-node-id="${b.node.nodeId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'connected');
    // Two add-node edits after init: version 2.
    assert.equal(await page.locator('#registry-version').textContent(), '2');

    // The figures of now: version, uptime, readiness, links up of peers.
    assert.equal(await page.locator('#version').textContent(), VERSION);
    assert.match((await page.locator('#uptime').textContent()) ?? '', /^\d+ s$|^\d+ min \d\d s$/);
    assert.match((await page.locator('#started-at').textContent()) ?? '', /^since /);
    assert.equal(await page.locator('#ready').getAttribute('data-ready'), 'true');
    assert.equal(await page.locator('#ready').textContent(), 'ready');
    assert.equal(await page.locator('#links-up').textContent(), '1 / 1');
    assert.equal(await page.locator('#warnings').isHidden(), true);

    // Every chart is there, with a unit on its y axis.
    const units: Record<string, string> = {
      'lane-control': 'bytes per second',
      'lane-high': 'bytes per second',
      'lane-bulk': 'bytes per second',
      'channel-consensus': 'bytes per second',
      'channel-ingress': 'bytes per second',
      'limits-consensus': '% of limit',
      'limits-ingress': '% of limit',
      'send-queues': 'bytes waiting',
      downloads: 'artifacts',
      refusals: 'per second',
    };
    for (const [key, unit] of Object.entries(units)) {
      await page.waitForSelector(`svg[data-chart="${key}"] text[data-axis="y"]`);
      const y = page.locator(`svg[data-chart="${key}"] text[data-axis="y"]`);
      assert.equal(await y.textContent(), unit, key);
    }

    // The time axis: "now" at the newest sample, then ticks counted back from it, each at the
    // time its label says, once the history spans three ticks.
    await page.waitForFunction(
      `document.querySelectorAll('svg[data-chart="lane-bulk"] text[data-axis="x"]').length >= 3`,
    );
    const ticks = await page.evaluate(`(() => {
      const svg = document.querySelector('svg[data-chart="lane-bulk"]');
      return {
        lastT: Number(svg.getAttribute('data-last-t')),
        ticks: [...svg.querySelectorAll('text[data-axis="x"]')].map((t) => ({
          label: t.textContent,
          t: Number(t.getAttribute('data-t')),
        })),
      };
    })()`);
    const { lastT, ticks: labels } = ticks as {
      lastT: number;
      ticks: { label: string; t: number }[];
    };
    assert.equal(labels[0]!.label, 'now');
    assert.equal(labels[0]!.t, lastT);
    for (const { label, t } of labels.slice(1)) {
      const m = /^-(\d+) (s|min)$/.exec(label);
      assert.ok(m, `tick label ${label}`);
      assert.equal(t, lastT - Number(m[1]) * (m[2] === 'min' ? 60_000 : 1000), label);
    }

    // Traffic makes the lanes' and the channel's lines move.
    const chart = page.locator('svg[data-chart="lane-bulk"]');
    const before = Number(await chart.getAttribute('data-last-t'));
    for (let i = 0; i < 5; i++) {
      const res = await api(1, '/v1/channels/ingress/artifacts', {
        method: 'POST',
        body: Buffer.alloc(300_000, i),
      });
      assert.equal(res.status, 201);
    }
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
    // The 5 artifacts b broadcast are held here, and counted in the figures of now: 5 of the
    // channel's 20 slots, but all of the 5 one peer may hold, which the page warns about.
    await page.waitForSelector('#held-total:text-is("5")');
    const ingress = page.locator('#channels tr[data-channel="ingress"] td[data-use="slots"]');
    assert.equal(await ingress.textContent(), '5 / 20 (25%)');
    assert.equal(await ingress.getAttribute('data-level'), 'ok');
    assert.match(
      (await page
        .locator('#channels tr[data-channel="ingress"] td[data-use="bytes"]')
        .textContent()) ?? '',
      /\/ 256 MiB/,
    );
    const share = page.locator(
      `#warnings:not([hidden]) li[data-limit="ingress/peer/${b.node.nodeId}/artifacts"]`,
    );
    await share.waitFor();
    assert.equal(
      await share.textContent(),
      `channel ingress: peer ${b.node.nodeId.slice(0, 11)}… artifacts 100% of limit (5 / 5)`,
    );
    assert.equal(await share.getAttribute('data-level'), 'full');
    assert.equal(await page.locator('#warnings li').count(), 1);

    // 9 of 10 consensus slots: the cell turns amber and the page warns.
    for (let i = 0; i < CONSENSUS_SLOTS - 1; i++) {
      const res = await api(0, '/v1/channels/consensus/artifacts', {
        method: 'POST',
        body: Buffer.from(`block ${i}`),
      });
      assert.equal(res.status, 201);
    }
    const slots = page.locator('#channels tr[data-channel="consensus"] td[data-use="slots"]');
    // The page may show 8 of 10 first (near too, from 80%): wait for the 9th.
    await page.waitForSelector(
      '#channels tr[data-channel="consensus"] td[data-use="slots"]:text-is("9 / 10 (90%)")',
    );
    assert.equal(await slots.getAttribute('data-level'), 'near');
    assert.match((await slots.getAttribute('class')) ?? '', /\bnear\b/);
    await page.waitForSelector(
      '#warnings:not([hidden]) li[data-limit="consensus/slots"]:text-is("channel consensus: slots 90% of limit (9 / 10)")',
    );
    const warning = page.locator('#warnings li[data-limit="consensus/slots"]');
    assert.equal(await warning.textContent(), 'channel consensus: slots 90% of limit (9 / 10)');
    assert.match((await warning.getAttribute('class')) ?? '', /\bwarning near\b/);
    // Artifacts held are limited by maxSlots too: warned about beside the slots.
    assert.equal(
      await page.locator('#warnings li[data-limit="consensus/artifacts"]').textContent(),
      'channel consensus: artifacts held 90% of limit (9 / 10)',
    );
    assert.equal(await page.locator('#warnings').isVisible(), true);
    // The limits chart's legend shows the use now.
    await page.waitForSelector(
      'svg[data-chart="limits-consensus"] + .legend [data-series="slots"] .now:text-is("90%")',
    );

    await mkdir('tmp', { recursive: true });
    await page.screenshot({ path: join('tmp', 'status-page.png'), fullPage: true });
    await page.close();
    assert.deepEqual(errors, []);
  });
});
