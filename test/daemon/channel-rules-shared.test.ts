// The library (resolveChannel, resolveDownloadLimits) and the daemon's config file state a
// channel's rules (broadcast/channel-schema.ts) and the download limits' once: the same bad
// setting is refused with the same field and message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveChannel, resolveDownloadLimits } from '../../src/broadcast/index.ts';
import { parseDaemonConfig } from '../../src/daemon/config.ts';
import { ConfigError } from '../../src/errors.ts';

const MINIMAL = { identityDir: 'k', registryFile: 'r.json', subnet: 's1', listen: '10.0.0.1:4100' };

function refusal(f: () => unknown): { field: string; message: string } {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return { field: err.field, message: err.message };
  }
  return assert.fail('not refused');
}

describe('channel rules shared by the library and the daemon', () => {
  const bad: Record<string, unknown>[] = [
    { pushThresholdBytes: -1 },
    { maxArtifactBytes: 0 },
    { maxSlots: 2 ** 33 },
    { maxSlots: 1.5 },
    { peerShare: 1.5 },
    { maxAgeMs: 0 },
    { maxBytes: 8 * 1024 * 1024 },
    { relay: 'everyone' },
    { chunking: { chunkBytes: 0 } },
    { chunking: { chunkBytes: 8 * 1024 * 1024 } },
    { chunking: { maxManifestBytes: 10 } },
    { maxArtifactBytes: 16 * 1024 ** 3 },
  ];
  for (const settings of bad) {
    it(`refuses ${JSON.stringify(settings)} alike`, () => {
      const library = refusal(() => resolveChannel('ingress', settings));
      const daemon = refusal(() =>
        parseDaemonConfig({ ...MINIMAL, channels: { ingress: settings } }, '/etc'),
      );
      assert.deepEqual(daemon, library);
      assert.match(library.field, /^channels\.ingress\./);
    });
  }

  for (const limits of [{ maxChunksPerPeer: 0 }, { downloadTimeoutMs: 1.5 }, { retryMaxMs: 10 }]) {
    it(`refuses the download limits ${JSON.stringify(limits)} alike`, () => {
      const library = refusal(() => resolveDownloadLimits(limits));
      const daemon = refusal(() => parseDaemonConfig({ ...MINIMAL, downloads: limits }, '/etc'));
      assert.deepEqual(daemon, library);
    });
  }
});
