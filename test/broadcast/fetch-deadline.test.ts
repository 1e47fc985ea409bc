import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_DOWNLOAD_LIMITS, resolveDownloadLimits } from '../../src/broadcast/config.ts';
import {
  LinkRates,
  MIN_SAMPLE_BYTES,
  UNMEASURED_WINDOW_BYTES,
} from '../../src/broadcast/core/link-rates.ts';
import { fetchDeadlineMs, fetchFits, SHARE_MARGIN } from '../../src/broadcast/fetch-deadline.ts';
import type { NodeId } from '../../src/identity/index.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('fetchDeadlineMs', () => {
  const limits = {
    downloadTimeoutMs: 5000,
    minThroughputBytesPerSec: 1_000_000,
    maxFetchDeadlineMs: 30_000,
  };

  it('alone on an unmeasured link: the base plus the bytes at the floor', () => {
    assert.equal(fetchDeadlineMs(0, limits), 5000);
    assert.equal(fetchDeadlineMs(2_000_000, limits), 7000);
    assert.equal(fetchDeadlineMs(4 * MiB, limits), 9195);
  });

  it('rounds a fraction of a millisecond up', () => {
    assert.equal(fetchDeadlineMs(1, limits), 5001);
    const tiny = { downloadTimeoutMs: 0.5, minThroughputBytesPerSec: 1e9, maxFetchDeadlineMs: 1 };
    assert.equal(fetchDeadlineMs(1, tiny), 1);
  });

  it('the floor is per link: the bytes ahead of the fetch count', () => {
    const link = { aheadBytes: 3_000_000, bytesPerSec: undefined };
    assert.equal(fetchDeadlineMs(1_000_000, limits, link), 9000);
  });

  it('a measured share slower than the floor lengthens it, with a margin', () => {
    // 4 MB at 250 kB/s (a share of 500 kB/s, halved): 16 s.
    const link = { aheadBytes: 3_000_000, bytesPerSec: 500_000 };
    assert.equal(SHARE_MARGIN, 2);
    assert.equal(fetchDeadlineMs(1_000_000, limits, link), 21_000);
  });

  it('a share faster than twice the floor changes nothing: the floor rules', () => {
    for (const bytesPerSec of [2_000_000, 1e9, Number.POSITIVE_INFINITY]) {
      const link = { aheadBytes: 1_000_000, bytesPerSec };
      assert.equal(fetchDeadlineMs(1_000_000, limits, link), 7000);
    }
  });

  it('bounded by maxFetchDeadlineMs, however slow the share (zero, or one byte a second)', () => {
    for (const bytesPerSec of [0, 1, 1000, -5]) {
      const link = { aheadBytes: 3 * MiB, bytesPerSec };
      assert.equal(fetchDeadlineMs(MiB, limits, link), 30_000);
      assert.equal(fetchDeadlineMs(MiB, { ...limits, maxFetchDeadlineMs: 12_000 }, link), 12_000);
    }
  });

  it('never less than the fetch alone at the floor: a bound below that gives the old rule', () => {
    const link = { aheadBytes: 10 * MiB, bytesPerSec: 1000 };
    const old = { ...limits, maxFetchDeadlineMs: 1 };
    assert.equal(fetchDeadlineMs(4 * MiB, old, link), 9195);
    assert.equal(fetchDeadlineMs(4 * MiB, { ...limits, maxFetchDeadlineMs: 6000 }, link), 9195);
  });

  it('fetchFits: whether the bound leaves the deadline whole', () => {
    const link = (aheadBytes: number) => ({ aheadBytes, bytesPerSec: 200_000 });
    // 5 s + (ahead + 1 MB) / 100 kB/s <= 30 s: ahead up to 1.5 MB.
    assert.equal(fetchFits(1_000_000, limits, link(1_500_000)), true);
    assert.equal(fetchFits(1_000_000, limits, link(1_500_001)), false);
    assert.equal(fetchFits(1, limits, { aheadBytes: 0, bytesPerSec: 0 }), false);
    assert.equal(fetchFits(1_000_000, limits, { aheadBytes: 0, bytesPerSec: undefined }), true);
  });

  it('the default bound is a positive integer, as resolveDownloadLimits requires', () => {
    assert.equal(DEFAULT_DOWNLOAD_LIMITS.maxFetchDeadlineMs, 30_000);
    assert.throws(() => resolveDownloadLimits({ maxFetchDeadlineMs: 0 }), /maxFetchDeadlineMs/);
    assert.throws(() => resolveDownloadLimits({ maxFetchDeadlineMs: 1.5 }), /maxFetchDeadlineMs/);
  });
});

describe('LinkRates: the measured share of each peer link', () => {
  const limits = resolveDownloadLimits();
  const a = 'peer-a' as NodeId;
  const b = 'peer-b' as NodeId;
  const chunk = (bytes: number) => ({ ok: true as const, body: new Uint8Array(bytes) });

  it('deadlines count the bytes in flight ahead; answers measure the share', () => {
    const links = new LinkRates(limits);
    // Four fetches of 1 MiB at once: the floor per link (1 MB/s), each behind those before.
    const deadlines = [1, 2, 3, 4].map((t) => links.start(t, a, MiB, 0));
    assert.deepEqual(deadlines, [6049, 7098, 8146, 9195]);
    assert.deepEqual(links.share(a), { aheadBytes: 4 * MiB, bytesPerSec: undefined });
    // A FIFO at 250 kB/s: one every 4.19 s. Each saw every byte that came while it waited.
    for (let k = 1; k <= 4; k++) links.ended(k, chunk(MiB), Math.round((k * MiB) / 250));
    const share = links.share(a);
    assert.equal(share.aheadBytes, 0);
    assert.ok(Math.abs(share.bytesPerSec! - 250_000) < 1000, `${share.bytesPerSec}`);
    // Now 4 MiB take 16.8 s at the share, 33.6 s with the margin: the bound, 30 s.
    links.start(5, a, 3 * MiB, 20_000);
    assert.equal(links.start(6, a, MiB, 20_000), 30_000);
    // Another peer is unaffected.
    assert.equal(links.start(7, b, MiB, 20_000), 6049);
  });

  it('a timeout is a sample: a peer that delivers nothing is measured at 0 (deadlines at the bound)', () => {
    const links = new LinkRates(limits);
    links.start(1, a, MiB, 0);
    links.ended(1, { ok: false, reason: 'timeout' }, 6049);
    assert.equal(links.share(a).bytesPerSec, 0);
    assert.equal(links.start(2, a, MiB, 7000), 30_000);
  });

  it('short answers, errors and cancellations say nothing of the link', () => {
    const links = new LinkRates(limits);
    links.start(1, a, 100, 0);
    links.ended(1, chunk(MIN_SAMPLE_BYTES - 1), 10_000);
    links.start(2, a, MiB, 0);
    links.ended(2, { ok: false, reason: 'error' }, 10_000);
    links.start(3, a, MiB, 0);
    links.cancelled(3);
    links.start(4, a, MiB, 0);
    links.ended(4, { ok: false, reason: 'link_closed' }, 10_000);
    assert.deepEqual(links.share(a), { aheadBytes: 0, bytesPerSec: undefined });
    // Ending twice, or an unknown token, is a no-op.
    links.ended(4, chunk(MiB), 11_000);
    links.cancelled(99);
    assert.deepEqual(links.share(a), { aheadBytes: 0, bytesPerSec: undefined });
    assert.equal(links.inFlight, 0);
  });

  it('admits: 256 KiB in flight until the link is measured, then while it fits the bound', () => {
    const links = new LinkRates(limits);
    assert.equal(UNMEASURED_WINDOW_BYTES, 256 * KiB);
    assert.equal(links.admits(a, 2 * MiB), true, 'one alone always goes');
    links.start(1, a, 64 * KiB, 0);
    assert.equal(links.admits(a, 192 * KiB), true, 'small chunks');
    assert.equal(links.admits(a, 192 * KiB + 1), false, 'slow start');
    links.cancelled(1);
    links.start(1, a, MiB, 0);
    assert.equal(links.admits(a, 1), false);
    links.ended(1, chunk(MiB), 4194); // 250 kB/s
    assert.equal(links.admits(a, MiB), true);
    links.start(2, a, MiB, 5000);
    links.start(3, a, MiB, 5000);
    // 5 s + 3 MiB at 125 kB/s = 30.2 s: a third in flight would time out at the bound.
    assert.equal(links.admits(a, MiB), false);
    assert.equal(links.admits(a, 100_000), true);
  });

  it('admits: after a timeout, one at a time until an answer comes', () => {
    const links = new LinkRates(limits);
    links.start(1, a, MiB, 0);
    links.ended(1, chunk(MiB), 1000);
    links.start(2, a, MiB, 1000);
    links.start(3, a, MiB, 1000);
    links.ended(2, { ok: false, reason: 'timeout' }, 7000);
    assert.equal(links.admits(a, MiB), false, 'one still in flight');
    links.ended(3, chunk(MiB), 7500);
    assert.equal(links.admits(a, MiB), true);
  });

  it('a peer whose link goes down is forgotten, with its fetches', () => {
    const links = new LinkRates(limits);
    links.start(1, a, MiB, 0);
    links.ended(1, chunk(MiB), 1000);
    links.start(2, a, MiB, 1000);
    links.start(3, b, MiB, 1000);
    assert.equal(links.peers, 2);
    links.peerDown(a);
    assert.equal(links.peers, 1);
    assert.equal(links.inFlight, 1);
    links.ended(2, chunk(MiB), 2000); // its result after the link went: ignored
    assert.equal(links.peers, 1);
    assert.deepEqual(links.share(a), { aheadBytes: 0, bytesPerSec: undefined });
  });
});
