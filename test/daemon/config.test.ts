import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_CHANNEL,
  DEFAULT_CHUNKING,
  DEFAULT_DOWNLOAD_LIMITS,
} from '../../src/broadcast/index.ts';
import {
  DEFAULT_DAEMON_LIMITS,
  loadDaemonConfig,
  parseDaemonConfig,
  parseHostPort,
} from '../../src/daemon/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { generateIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { createNode, DEFAULT_NODE_CHANNELS, mergeNodeChannels } from '../../src/node/index.ts';
import { InMemoryRegistryClient } from '../../src/registry/index.ts';
import { Lane } from '../../src/transport/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';

const MINIMAL = {
  identityDir: 'keys/node1',
  registryFile: '../registry.json',
  subnet: 's1',
  listen: '10.0.0.1:4100',
};

function refused(input: unknown, field: string, message?: RegExp): void {
  assert.throws(
    () => parseDaemonConfig(input, '/etc/subnet-p2p'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.field, field, err.message);
      assert.equal(err.code, 'ERR_CONFIG');
      assert.ok(err.message.includes(`'${field}'`), err.message);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

describe('daemon config schema', () => {
  it('fills in defaults: consensus on the high lane, ingress on bulk, loopback API', () => {
    const c = parseDaemonConfig(MINIMAL, '/etc/subnet-p2p');
    assert.equal(c.identityDir, '/etc/subnet-p2p/keys/node1');
    assert.equal(c.registryFile, '/etc/registry.json');
    assert.equal(c.registryPublicKey, undefined);
    assert.deepEqual(c.listen, { host: '10.0.0.1', port: 4100 });
    assert.deepEqual(c.api, { host: '127.0.0.1', port: 4180 });
    assert.deepEqual(Object.keys(c.channels), ['consensus', 'ingress']);
    assert.equal(c.channels.consensus!.lane, Lane.high);
    assert.equal(c.channels.consensus!.pushThresholdBytes, 1024);
    assert.equal(c.channels.ingress!.lane, Lane.bulk);
    assert.equal(c.channels.ingress!.maxArtifactBytes, 4 * 1024 * 1024);
    // Chunking is on by default.
    assert.deepEqual(c.channels.consensus!.chunking, DEFAULT_CHUNKING);
    assert.deepEqual(c.channels.ingress!.chunking, DEFAULT_CHUNKING);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.limits, DEFAULT_DAEMON_LIMITS);
    assert.equal(c.chunkDir, undefined, 'chunks in memory unless a chunkDir is given');
    assert.deepEqual(c.downloads, DEFAULT_DOWNLOAD_LIMITS);
  });

  it('takes a chunkDir (from the config folder) and download limits merged over the defaults', () => {
    const c = parseDaemonConfig(
      { ...MINIMAL, chunkDir: 'chunks', downloads: { maxChunksPerPeer: 8, retryBaseMs: 100 } },
      '/etc/subnet-p2p',
    );
    assert.equal(c.chunkDir, '/etc/subnet-p2p/chunks');
    assert.deepEqual(c.downloads, {
      ...DEFAULT_DOWNLOAD_LIMITS,
      maxChunksPerPeer: 8,
      retryBaseMs: 100,
    });
  });

  it('durable acceptance is on by default, in <identityDir>/data; dataDir and durable: false are taken', () => {
    const c = parseDaemonConfig(MINIMAL, '/etc/subnet-p2p');
    assert.equal(c.durable, true);
    assert.equal(c.dataDir, '/etc/subnet-p2p/keys/node1/data');
    const d = parseDaemonConfig(
      { ...MINIMAL, dataDir: 'state', durable: false },
      '/etc/subnet-p2p',
    );
    assert.equal(d.dataDir, '/etc/subnet-p2p/state');
    assert.equal(d.durable, false);
    refused({ ...MINIMAL, durable: 'yes' }, 'durable');
    refused({ ...MINIMAL, dataDir: '' }, 'dataDir');
  });

  it('refuses bad download limits, naming the field', () => {
    refused({ ...MINIMAL, downloads: { maxChunksPerPeer: 1.5 } }, 'downloads.maxChunksPerPeer');
    refused({ ...MINIMAL, downloads: { maxChunksPerPeer: 0 } }, 'downloads.maxChunksPerPeer');
    refused({ ...MINIMAL, downloads: { chunksPerPeer: 4 } }, 'downloads.chunksPerPeer');
    refused({ ...MINIMAL, downloads: { retryMaxMs: 10 } }, 'downloads.retryMaxMs');
    refused({ ...MINIMAL, chunkDir: '' }, 'chunkDir');
  });

  it('takes channels, an operator key, an IPv6 API address and limits', () => {
    const c = parseDaemonConfig(
      {
        ...MINIMAL,
        registryPublicKey: '/keys/operator.pub',
        api: '[::1]:0',
        channels: {
          blocks: { lane: 'high', maxArtifactBytes: 1000, relay: 'origin-only' },
          consensus: { pushThresholdBytes: 0 },
        },
        limits: { maxEventStreams: 3 },
      },
      '/etc',
    );
    assert.equal(c.registryPublicKey, '/keys/operator.pub');
    assert.deepEqual(c.api, { host: '::1', port: 0 });
    assert.deepEqual(c.channels.blocks, {
      lane: Lane.high,
      pushThresholdBytes: 1024,
      maxArtifactBytes: 1000,
      maxSlots: 10_000,
      relay: 'origin-only',
      maxAgeMs: DEFAULT_CHANNEL.maxAgeMs,
      maxBytes: DEFAULT_CHANNEL.maxBytes,
      peerShare: DEFAULT_CHANNEL.peerShare,
      chunking: DEFAULT_CHUNKING,
    });
    // A channel named like a default one starts from that one's defaults.
    assert.equal(c.channels.consensus!.lane, Lane.high);
    assert.equal(c.channels.consensus!.pushThresholdBytes, 0);
    assert.equal(c.limits.maxEventStreams, 3);
    assert.equal(c.limits.maxEventBacklog, DEFAULT_DAEMON_LIMITS.maxEventBacklog);
  });

  it('takes retention per channel: maxAgeMs, maxBytes, peerShare', () => {
    const c = parseDaemonConfig(
      {
        ...MINIMAL,
        channels: {
          consensus: { maxAgeMs: 30_000, maxBytes: 64 * 1024 * 1024, peerShare: 0.5 },
          // maxBytes by default grows to hold one peer's share of its largest artifact.
          ingress: { maxArtifactBytes: 128 * 1024 * 1024, peerShare: 0.25 },
        },
      },
      '/etc',
    );
    assert.equal(c.channels.consensus!.maxAgeMs, 30_000);
    assert.equal(c.channels.consensus!.maxBytes, 64 * 1024 * 1024);
    assert.equal(c.channels.consensus!.peerShare, 0.5);
    assert.equal(c.channels.ingress!.maxAgeMs, DEFAULT_CHANNEL.maxAgeMs);
    assert.equal(c.channels.ingress!.maxBytes, 512 * 1024 * 1024);
    const ingress = (settings: unknown) => ({ ...MINIMAL, channels: { ingress: settings } });
    refused(ingress({ maxAgeMs: 0 }), 'channels.ingress.maxAgeMs');
    refused(ingress({ maxAgeMs: 1.5 }), 'channels.ingress.maxAgeMs');
    refused(ingress({ maxBytes: -1 }), 'channels.ingress.maxBytes');
    refused(ingress({ peerShare: 0 }), 'channels.ingress.peerShare');
    refused(ingress({ peerShare: 1.5 }), 'channels.ingress.peerShare');
    // One peer's share must hold the largest artifact.
    refused(ingress({ maxBytes: 8 * 1024 * 1024 }), 'channels.ingress.maxBytes', /peerShare/);
  });

  it('takes chunking: null (off), or some of its fields merged over the defaults', () => {
    const c = parseDaemonConfig(
      {
        ...MINIMAL,
        channels: {
          consensus: { chunking: null },
          ingress: {
            maxArtifactBytes: 256 * 1024 * 1024,
            chunking: { chunkBytes: 4 * 1024 * 1024 },
          },
          blobs: { chunking: {} },
        },
      },
      '/etc',
    );
    // The key stays, with undefined: createNode takes that as off, not as the default.
    assert.ok('chunking' in c.channels.consensus!);
    assert.equal(c.channels.consensus!.chunking, undefined);
    assert.deepEqual(c.channels.ingress!.chunking, {
      ...DEFAULT_CHUNKING,
      chunkBytes: 4 * 1024 * 1024,
    });
    assert.deepEqual(c.channels.blobs!.chunking, DEFAULT_CHUNKING);
  });

  it('merges a partial channels block over the default channels; null removes one', () => {
    const names = (channels: unknown) =>
      Object.keys(parseDaemonConfig({ ...MINIMAL, channels }, '/etc').channels);
    // Only ingress's maxArtifactBytes: consensus stays, as it was by default.
    const c = parseDaemonConfig(
      { ...MINIMAL, channels: { ingress: { maxArtifactBytes: 8 * 1024 * 1024 } } },
      '/etc',
    );
    const defaults = parseDaemonConfig(MINIMAL, '/etc').channels;
    assert.deepEqual(Object.keys(c.channels), ['consensus', 'ingress']);
    assert.deepEqual(c.channels.consensus, defaults.consensus);
    assert.deepEqual(c.channels.ingress, {
      ...defaults.ingress,
      maxArtifactBytes: 8 * 1024 * 1024,
    });
    assert.deepEqual(names({}), ['consensus', 'ingress']);
    assert.deepEqual(names({ blocks: { lane: 'high' } }), ['consensus', 'ingress', 'blocks']);
    assert.deepEqual(names({ ingress: null }), ['consensus']);
    assert.deepEqual(names({ consensus: null, ingress: null, blocks: {} }), ['blocks']);
    refused({ ...MINIMAL, channels: { ingress: null, consensus: null } }, 'channels', /at least/);
    refused(
      { ...MINIMAL, channels: { blocks: null } },
      'channels.blocks',
      /null removes a default channel \(consensus, ingress\)/,
    );
    // A name that only the prototype of an object has is no default channel either.
    refused({ ...MINIMAL, channels: { constructor: null } }, 'channels.constructor');
  });

  it("the library's createNode merges its channels the same way (mergeNodeChannels)", async () => {
    const MIB = 1024 * 1024;
    assert.deepEqual(mergeNodeChannels(), DEFAULT_NODE_CHANNELS);
    assert.deepEqual(mergeNodeChannels({ ingress: { maxArtifactBytes: 8 * MIB } }), {
      consensus: DEFAULT_NODE_CHANNELS.consensus,
      ingress: { lane: Lane.bulk, maxArtifactBytes: 8 * MIB },
    });
    // A default channel named with some settings keeps its other defaults (the high lane).
    assert.equal(mergeNodeChannels({ consensus: { maxSlots: 5 } }).consensus!.lane, Lane.high);
    assert.deepEqual(Object.keys(mergeNodeChannels({ consensus: null, blocks: {} })), [
      'ingress',
      'blocks',
    ]);
    assert.throws(() => mergeNodeChannels({ consensus: null, ingress: null }), {
      code: 'ERR_CONFIG',
      field: 'channels',
    });
    assert.throws(() => mergeNodeChannels({ blocks: null }), {
      code: 'ERR_CONFIG',
      field: 'channels.blocks',
    });
    // And a real node: only ingress given, consensus is there, on the high lane.
    const node = await createNode({
      identity: await generateIdentity(),
      registry: new InMemoryRegistryClient(),
      subnet: 's1',
      listen: { host: '127.0.0.1', port: 0 },
      channels: { ingress: { maxArtifactBytes: 8 * MIB } },
      logger: silentLogger(),
    });
    try {
      assert.deepEqual(node.channels(), ['consensus', 'ingress']);
    } finally {
      await node.stop();
    }
  });

  it('refuses a bad chunking, naming its field', () => {
    const ingress = (chunking: unknown) => ({ ...MINIMAL, channels: { ingress: { chunking } } });
    refused(ingress(true), 'channels.ingress.chunking');
    refused(ingress({ chunkBytes: 0 }), 'channels.ingress.chunking.chunkBytes');
    refused(ingress({ thresholdBytes: 1.5 }), 'channels.ingress.chunking.thresholdBytes');
    refused(ingress({ chunkSize: 1024 }), 'channels.ingress.chunking.chunkSize', /not a known/);
    refused(
      ingress({ chunkBytes: 8 * 1024 * 1024 }),
      'channels.ingress.chunking.chunkBytes',
      /maxChunkBytes/,
    );
    // 16 GiB of 1 MiB chunks: a manifest over the default 256 KiB.
    refused(
      { ...MINIMAL, channels: { ingress: { maxArtifactBytes: 16 * 1024 ** 3 } } },
      'channels.ingress.maxArtifactBytes',
      /manifest/,
    );
    // Without chunking, there is no manifest to bound.
    const c = parseDaemonConfig(
      { ...MINIMAL, channels: { ingress: { maxArtifactBytes: 16 * 1024 ** 3, chunking: null } } },
      '/etc',
    );
    assert.equal(c.channels.ingress!.chunking, undefined);
  });

  it('names the field at fault', () => {
    const { subnet: _s, ...noSubnet } = MINIMAL;
    refused(noSubnet, 'subnet', /is required/);
    refused({ ...MINIMAL, subnet: 'Bad Name' }, 'subnet');
    refused({ ...MINIMAL, listen: 'localhost' }, 'listen', /not host:port/);
    refused({ ...MINIMAL, listen: '10.0.0.1:70000' }, 'listen');
    refused({ ...MINIMAL, api: '::1:80' }, 'api');
    refused({ ...MINIMAL, identityDir: 42 }, 'identityDir');
    refused({ ...MINIMAL, registryFile: '' }, 'registryFile');
    refused({ ...MINIMAL, lsiten: '1.2.3.4:5' }, 'lsiten', /not a known setting/);
    refused(
      { ...MINIMAL, channels: { consensus: null, ingress: null } },
      'channels',
      /at least one/,
    );
    refused({ ...MINIMAL, channels: { ingress: { lane: 'control' } } }, 'channels.ingress.lane');
    refused(
      { ...MINIMAL, channels: { ingress: { maxArtifactBytes: -1 } } },
      'channels.ingress.maxArtifactBytes',
    );
    refused({ ...MINIMAL, channels: { ingress: { priority: 1 } } }, 'channels.ingress.priority');
    refused({ ...MINIMAL, channels: { 'Bad!': {} } }, 'channels.Bad!');
    refused({ ...MINIMAL, logLevel: 'loud' }, 'logLevel');
    refused({ ...MINIMAL, limits: { maxEventStreams: 0 } }, 'limits.maxEventStreams');
    refused({ ...MINIMAL, limits: { maxStreams: 1 } }, 'limits.maxStreams');
    refused(
      { ...MINIMAL, limits: { shutdownQuietMs: 5000, shutdownTimeoutMs: 1000 } },
      'limits.shutdownQuietMs',
    );
    refused([], '(root)');
  });

  it('parses host:port with port 0 and refuses what addresses cannot be', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseHostPort('node-1.example.org:4100'), {
      host: 'node-1.example.org',
      port: 4100,
    });
    assert.deepEqual(parseHostPort('[::1]:4100'), { host: '::1', port: 4100 });
    for (const bad of ['', ':80', '1.2.3.4', '1.2.3.4:-1', '1.2.3.4:08', '[zz]:1', 'a b:1']) {
      assert.equal(typeof parseHostPort(bad), 'string', bad);
    }
  });

  it('reads a file: relative paths from its folder; unreadable or not JSON names config', async () => {
    const dir = await tempDir('subnet-p2p-config-');
    try {
      const path = join(dir, 'node.json');
      await writeFile(path, JSON.stringify(MINIMAL));
      const c = await loadDaemonConfig(path);
      assert.equal(c.identityDir, join(dir, 'keys/node1'));
      await writeFile(path, '{ "subnet": ');
      await assert.rejects(loadDaemonConfig(path), { field: 'config', message: /not valid JSON/ });
      await assert.rejects(loadDaemonConfig(join(dir, 'missing.json')), {
        field: 'config',
        message: /cannot read .*ENOENT/,
      });
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe('daemon config: the API (tokens, hosts, TLS, readiness, slow clients)', () => {
  const parse = (extra: Record<string, unknown>) =>
    parseDaemonConfig({ ...MINIMAL, ...extra }, '/etc/subnet-p2p');

  it('a non-loopback api needs apiTls or apiAllowPlainHttp; loopback needs neither', () => {
    for (const api of ['0.0.0.0:4180', '[::]:4180', '10.0.0.1:4180', 'node1.example.org:4180']) {
      refused({ ...MINIMAL, api }, 'api', /not a loopback address.*apiTls.*apiAllowPlainHttp/);
    }
    for (const api of ['127.0.0.1:0', '127.1.2.3:4180', '[::1]:4180', 'localhost:4180']) {
      assert.equal(parse({ api }).apiTls, undefined, api);
    }
    const plain = parse({ api: '0.0.0.0:4180', apiAllowPlainHttp: true });
    assert.equal(plain.apiAllowPlainHttp, true);
    const tls = parse({ api: '0.0.0.0:4180', apiTls: { cert: 'api.crt', key: '/k/api.key' } });
    assert.deepEqual(tls.apiTls, { cert: '/etc/subnet-p2p/api.crt', key: '/k/api.key' });
    refused({ ...MINIMAL, apiTls: { cert: 'a' } }, 'apiTls.key');
    refused({ ...MINIMAL, apiAllowPlainHttp: 'yes' }, 'apiAllowPlainHttp');
  });

  it('apiTokenFile, apiHosts and readyPeerShare: defaults and checks', () => {
    const c = parse({});
    assert.equal(c.apiTokenFile, undefined);
    assert.deepEqual(c.apiHosts, []);
    assert.equal(c.readyPeerShare, 0.5);
    assert.equal(parse({ apiTokenFile: 'token' }).apiTokenFile, '/etc/subnet-p2p/token');
    assert.deepEqual(parse({ apiHosts: ['Node1.Example.org', '[fd00::1]', '10.0.0.1'] }).apiHosts, [
      'node1.example.org',
      'fd00::1',
      '10.0.0.1',
    ]);
    refused({ ...MINIMAL, apiHosts: ['evil.example:80'] }, 'apiHosts.0');
    refused({ ...MINIMAL, apiHosts: ['a b'] }, 'apiHosts.0');
    assert.equal(parse({ readyPeerShare: 0 }).readyPeerShare, 0);
    assert.equal(parse({ readyPeerShare: 1 }).readyPeerShare, 1);
    refused({ ...MINIMAL, readyPeerShare: 1.5 }, 'readyPeerShare');
    refused({ ...MINIMAL, readyPeerShare: -0.1 }, 'readyPeerShare');
  });

  it('the API limits: headers deadline, upload minimum rate and grace', () => {
    const { limits } = parse({});
    assert.equal(limits.apiHeadersTimeoutMs, 10_000);
    assert.equal(limits.uploadMinBytesPerSecond, 16_384);
    assert.equal(limits.uploadGraceMs, 5000);
    assert.equal(DEFAULT_DAEMON_LIMITS.uploadGraceMs, 5000);
    const set = parse({ limits: { uploadMinBytesPerSecond: 1, uploadGraceMs: 100 } }).limits;
    assert.equal(set.uploadMinBytesPerSecond, 1);
    assert.equal(set.uploadGraceMs, 100);
    refused({ ...MINIMAL, limits: { apiHeadersTimeoutMs: 0 } }, 'limits.apiHeadersTimeoutMs');
    refused(
      { ...MINIMAL, limits: { uploadMinBytesPerSecond: 0.5 } },
      'limits.uploadMinBytesPerSecond',
    );
  });
});
