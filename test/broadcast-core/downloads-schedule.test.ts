import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveDownloadLimits } from '../../src/broadcast/config.ts';
import { Downloads, type Want } from '../../src/broadcast/core/downloads.ts';
import type { ArtifactId } from '../../src/broadcast/types.ts';
import type { NodeId } from '../../src/identity/index.ts';

const PEERS = ['p1', 'p2', 'p3'] as NodeId[];
const up = new Set(PEERS);

/** `n` wants, each advertised by every peer; `reads` counts how often the walk looks at one. */
function queued(n: number) {
  const downloads = new Downloads(resolveDownloadLimits({ maxConcurrentDownloads: 64 }));
  const counter = { reads: 0 };
  const wants: Want[] = [];
  for (let i = 0; i < n; i++) {
    const id = i.toString(16).padStart(64, '0') as ArtifactId;
    const advert = { channel: 'c', id, size: 1000, attributes: new Uint8Array() };
    let want: Want | undefined;
    for (const peer of PEERS)
      want = downloads.advertised(`c/${id}`, advert, peer, () => ({ fetch: 0 }));
    let notBefore = want!.notBefore;
    Object.defineProperty(want, 'notBefore', {
      get: () => {
        counter.reads++;
        return notBefore;
      },
      set: (v: number) => {
        notBefore = v;
      },
    });
    wants.push(want!);
  }
  return { downloads, counter, wants };
}

describe('Downloads.schedule', () => {
  it('starts up to the per-peer limit of every peer, then stops walking the queue', () => {
    const { downloads, counter } = queued(10_000);
    const starts = downloads.schedule(0, up);
    const perPeer = resolveDownloadLimits().maxDownloadsPerPeer;
    assert.equal(starts.length, PEERS.length * perPeer);
    assert.equal(counter.reads, starts.length, 'one look per want started, none past them');
    // Every peer busy: a new advert (a new schedule) looks at no queued want at all.
    counter.reads = 0;
    assert.deepEqual(downloads.schedule(1, up), []);
    assert.equal(counter.reads, 0);
    // One download finishes: one more starts, on the peer that has room again.
    const first = starts[0]!;
    downloads.finish(first.token);
    const next = downloads.schedule(2, up);
    assert.equal(next.length, 1);
    assert.equal(next[0]!.peer, first.peer);
  });

  it('with a peer down, the peers up decide: all busy, nothing is walked', () => {
    const { downloads, counter } = queued(1000);
    const two = new Set(PEERS.slice(0, 2));
    const starts = downloads.schedule(0, two);
    assert.equal(starts.length, 2 * resolveDownloadLimits().maxDownloadsPerPeer);
    assert.ok(starts.every((s) => two.has(s.peer)));
    counter.reads = 0;
    assert.deepEqual(downloads.schedule(1, two), []);
    assert.equal(counter.reads, 0);
    // The third peer comes up: it takes its share.
    assert.equal(downloads.schedule(2, up).length, resolveDownloadLimits().maxDownloadsPerPeer);
  });
});

describe('Downloads.chunkedWants', () => {
  it('counts the wants of chunked artifacts as they come and go, however they go', () => {
    const downloads = new Downloads(resolveDownloadLimits());
    const id = (i: number) => i.toString(16).padStart(64, '0') as ArtifactId;
    const advert = (i: number, manifestSize?: number) => ({
      channel: 'c',
      id: id(i),
      size: 1 << 20,
      attributes: new Uint8Array(),
      ...(manifestSize === undefined ? {} : { manifestSize }),
    });
    const fetch = () => ({ fetch: 0 });
    downloads.advertised('c/1', advert(1, 100), PEERS[0]!, fetch);
    downloads.advertised('c/1', advert(1, 100), PEERS[1]!, fetch); // the same want
    downloads.advertised('c/2', advert(2, 100), PEERS[0]!, fetch);
    downloads.advertised('c/3', advert(3), PEERS[0]!, fetch); // whole
    downloads.advertised('c/4', advert(4, 100), PEERS[0]!, () => 'drop' as const); // not kept
    assert.equal(downloads.chunkedWants, 2);
    downloads.withdrawn('c/1', PEERS[0]!);
    assert.equal(downloads.chunkedWants, 2, 'one advertiser left');
    downloads.withdrawn('c/1', PEERS[1]!);
    assert.equal(downloads.chunkedWants, 1);
    downloads.remove('c/3');
    downloads.remove('c/2');
    downloads.remove('c/2');
    assert.equal(downloads.chunkedWants, 0);
  });
});
