/**
 * Test harness for the daemon: the real `subnet-p2p` binary in child processes, free loopback
 * ports, the HTTP API, and server-sent event streams. Waits are on events (a log line, an SSE
 * event, a process exit), or polls of the API with a bounded deadline.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  type ArtifactId,
  type ChunkStore,
  encodeManifest,
  manifestId,
} from '../../src/broadcast/index.ts';
import { parseDaemonConfig } from '../../src/daemon/config.ts';
import { type Daemon, startDaemon } from '../../src/daemon/run-daemon.ts';
import { generateIdentity, writeIdentity } from '../../src/identity/index.ts';
import { type Logger, silentLogger } from '../../src/log.ts';
import { addNode, initRegistry, writeRegistryFile } from '../../src/registry/index.ts';
import { killGroupOf, runGroup, spawnGroup, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';

export { removeTempDir, tempDir } from '../helpers/leftovers.ts';

const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));

/** A free TCP port on 127.0.0.1, chosen by the OS (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The API token of each daemon started by these helpers, by its API's origin. */
const apiTokens = new Map<string, string>();

/** Remembers `token` as the API token of the daemon at `base` (for {@link apiFetch}). */
export function registerApiToken(base: string, token: string): void {
  apiTokens.set(new URL(base).origin, token);
}

/** The API token of the daemon at `url`'s origin (started by these helpers). */
export function apiTokenOf(url: string): string {
  const token = apiTokens.get(new URL(url).origin);
  if (token === undefined) throw new Error(`no API token known for ${url}`);
  return token;
}

/** `{ authorization: 'Bearer <token>' }` for the daemon at `url`. */
export function authHeader(url: string): { authorization: string } {
  return { authorization: `Bearer ${apiTokenOf(url)}` };
}

/**
 * `fetch` of a daemon's API with its token (`Authorization: Bearer`), unless `init` gives an
 * authorization header of its own. The daemon must have been started by these helpers
 * ({@link DaemonProcess}, {@link startOneDaemon}) or registered ({@link registerApiToken}).
 */
export function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${apiTokenOf(url)}`);
  return fetch(url, { ...init, headers });
}

/** What a finished CLI run produced. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `subnet-p2p ...args` asynchronously (so that several can run at once), in a process
 * group of its own that is killed when this process ends.
 */
export async function cli(args: readonly string[], cwd?: string): Promise<CliResult> {
  const { status, stdout, stderr } = await runGroup(process.execPath, [BIN, ...args], { cwd });
  return { status, stdout, stderr };
}

/** Runs the CLI and returns its stdout, trimmed; throws with its stderr if it failed. */
export async function cliOk(args: readonly string[], cwd?: string): Promise<string> {
  const r = await cli(args, cwd);
  if (r.status !== 0) throw new Error(`subnet-p2p ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Through the CLI: keys for one node per address (in `<dir>/node<i>`) and for an operator
 * (`<dir>/operator`), and a registry `<dir>/registry.json` listing node i of `subnet` at
 * `addresses[i]`, signed by the operator. Returns the NodeIds (as keygen printed them, and as
 * add-node printed them again), the registry's path and the operator key's path.
 */
export async function signedSubnet(
  dir: string,
  subnet: string,
  addresses: readonly string[],
): Promise<{ ids: string[]; registry: string; operatorKey: string }> {
  const registry = join(dir, 'registry.json');
  const operatorKey = join(dir, 'operator', 'operator.key');
  // Keys for every node and the operator, at once.
  const ids = await Promise.all([
    ...addresses.map((_, i) => cliOk(['keygen', '--out', join(dir, `node${i}`)])),
    cliOk(['keygen', '--operator', '--out', join(dir, 'operator')]),
  ]);
  ids.pop();
  await cliOk(['registry', 'init', '--file', registry]);
  for (const [i, address] of addresses.entries()) {
    const added = await cliOk([
      ...['registry', 'add-node', '--file', registry, '--subnet', subnet],
      ...['--address', address, '--cert', join(dir, `node${i}`, 'node.crt')],
    ]);
    if (added !== ids[i]) throw new Error(`add-node printed ${added}, keygen ${ids[i]}`);
  }
  await cliOk(['registry', 'sign', '--file', registry, '--key', operatorKey]);
  return { ids, registry, operatorKey };
}

/**
 * A `subnet-p2p node` process, in a process group of its own: {@link dispose} kills the group,
 * and so does the end of this test process, however it ends (test/helpers/leftovers.ts).
 */
export class DaemonProcess {
  readonly child: ChildProcess;
  /**
   * Resolves with the API base URL once the node logged 'node ready' (its token is known then:
   * {@link token}, and {@link apiFetch} sends it).
   */
  readonly ready: Promise<string>;
  /** The API's bearer token, read from the file the 'node ready' line names (once ready). */
  token = '';
  /** Resolves with the exit code (null if killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  readonly logs: Record<string, unknown>[] = [];

  /**
   * `prefix` is a command the node runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` (it must
   * exec the node in place, so that the child's pid and signals are the node's own).
   */
  constructor(configFile: string, prefix: readonly string[] = []) {
    const argv = [process.execPath, BIN, 'node', '--config', configFile];
    const [command, ...args] = [...prefix, ...argv] as [string, ...string[]];
    this.child = spawnGroup(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.ready = new Promise((resolve, reject) => {
      const lines = createInterface({ input: this.child.stdout! });
      lines.on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        this.logs.push(entry);
        if (entry.msg === 'node ready') {
          const base = (entry.apiUrl as string | undefined) ?? `http://${entry.api as string}`;
          this.token = readFileSync(entry.apiTokenFile as string, 'utf8').trim();
          registerApiToken(base, this.token);
          resolve(base);
        }
      });
      void this.exited.then(({ code, signal }) =>
        reject(new Error(`node exited (${code ?? signal}) before ready: ${this.stderr}`)),
      );
    });
    // The rejection is observed by whoever awaits `ready`; avoid an unhandled one if nobody does.
    this.ready.catch(() => undefined);
  }

  /** Sends `signal` to the node process alone (a crash, or a stop the node handles). */
  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the process and its group (SIGKILL) if it still runs, and waits for it. */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      killGroupOf(this.child);
    }
    await this.exited;
  }
}

/** Writes a daemon config file and returns its path. */
export async function writeConfig(
  dir: string,
  name: string,
  config: Record<string, unknown>,
): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/**
 * Writes `node<i>.json` in `dir` for member `i` of a loopback subnet whose keys are in
 * `node<i>/`, whose registry is `registry.json` signed by `operator/operator.pub`, listening on
 * `port`: the default channels, and `limits` over a fast registry poll. Returns its path.
 */
export function writeNodeConfig(
  dir: string,
  i: number,
  port: number,
  opts: { subnet?: string; limits?: Record<string, number>; [key: string]: unknown } = {},
): Promise<string> {
  const { subnet = 's1', limits = {}, ...rest } = opts;
  return writeConfig(dir, `node${i}`, {
    identityDir: `node${i}`,
    registryFile: 'registry.json',
    registryPublicKey: 'operator/operator.pub',
    subnet,
    listen: `127.0.0.1:${port}`,
    api: '127.0.0.1:0',
    logLevel: 'info',
    ...rest,
    limits: { registryPollIntervalMs: 100, ...limits },
  });
}

/** `GET /v1/status` of a daemon. */
export interface Status {
  nodeId: string;
  subnet: string;
  registryVersion: number | null;
  peers: { nodeId: string; address: string; state: string; connId: number | null }[];
}

export async function status(base: string): Promise<Status> {
  const res = await apiFetch(`${base}/v1/status`);
  if (res.status !== 200) throw new Error(`status: ${res.status}`);
  return (await res.json()) as Status;
}

/**
 * Polls `check` every 50 ms until it returns a value other than undefined, or throws naming
 * `what` after `timeoutMs` (as on an idle machine: scaled by the slowdown factor, as every
 * deadline of these helpers is).
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + slow(timeoutMs);
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Resolves like `promise`, or rejects naming `what` if it takes longer than `ms` (as on an idle
 * machine: scaled by the slowdown factor).
 */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = slow(ms);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms: ${what}`)), limit);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `base` has a connected link to each of `peers` and to no other node. */
export function connectedTo(base: string, peers: readonly string[], timeoutMs?: number) {
  const want = [...peers].sort().join(',');
  return until(
    `${base} connected to exactly ${peers.length} peers`,
    async () => {
      const s = await status(base);
      const up = s.peers
        .filter((p) => p.state === 'connected')
        .map((p) => p.nodeId)
        .sort()
        .join(',');
      return up === want ? s : undefined;
    },
    timeoutMs,
  );
}

/** POSTs an artifact to `api`'s `channel` and returns its id (asserting 201). */
export async function postArtifact(
  api: string,
  channel: string,
  body: Uint8Array,
  attributes?: Uint8Array,
): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (attributes) headers['x-artifact-attributes'] = Buffer.from(attributes).toString('base64');
  const res = await apiFetch(`${api}/v1/channels/${channel}/artifacts`, {
    method: 'POST',
    body,
    headers,
  });
  if (res.status !== 201) throw new Error(`POST ${channel}: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return id;
}

/** `GET` of one artifact. */
export function getArtifact(api: string, channel: string, id: string): Promise<Response> {
  return apiFetch(`${api}/v1/channels/${channel}/artifacts/${id}`);
}

/** Polls until `api` holds artifact `id`, and returns its bytes. */
export function fetched(api: string, channel: string, id: string, timeoutMs?: number) {
  return until(
    `${api} to hold ${id.slice(0, 8)}`,
    async () => {
      const res = await getArtifact(api, channel, id);
      return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
    },
    timeoutMs,
  );
}

/** One `artifact` event of an event stream. */
export interface ArtifactEventData {
  channel: string;
  id: string;
  size: number;
  attributes: string;
  from: string;
}

/** A client of `GET /v1/channels/{channel}/events`. */
export class EventStreamClient {
  readonly events: ArtifactEventData[] = [];
  readonly #waiters = new Set<() => void>();
  #close: () => void = () => undefined;

  /** Opens the stream; resolves once the daemon confirmed the subscription. */
  static async open(base: string, channel: string): Promise<EventStreamClient> {
    const client = new EventStreamClient();
    await client.#open(`${base}/v1/channels/${channel}/events`);
    return client;
  }

  #open(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: authHeader(url) }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`events: ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.startsWith(': subscribed')) resolve();
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            if (data !== undefined) {
              this.events.push(JSON.parse(data.slice(6)) as ArtifactEventData);
              for (const w of this.#waiters) w();
            }
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', reject);
      req.end();
      this.#close = () => req.destroy();
    });
  }

  /** Resolves with the first event (past or future) whose id is `id`. */
  waitFor(id: string): Promise<ArtifactEventData> {
    return new Promise((resolve) => {
      const check = () => {
        const e = this.events.find((x) => x.id === id);
        if (e === undefined) return;
        this.#waiters.delete(check);
        resolve(e);
      };
      this.#waiters.add(check);
      check();
    });
  }

  close(): void {
    this.#close();
  }
}

/**
 * A fresh folder for one node of subnet `s1`: its keys in `node/`, and `registry.json` listing
 * it at `127.0.0.1:<port>` (a free port).
 */
export async function oneNodeDir(prefix: string): Promise<{ dir: string; port: number }> {
  const dir = await tempDir(prefix);
  const identity = await generateIdentity();
  await writeIdentity(join(dir, 'node'), identity);
  const port = await freePort();
  const doc = addNode(initRegistry(), {
    subnet: 's1',
    address: `127.0.0.1:${port}`,
    certificatePem: identity.certificatePem,
  });
  await writeRegistryFile(join(dir, 'registry.json'), doc);
  return { dir, port };
}

/** The config of the node of a {@link oneNodeDir} listening on `port`: `config` over it. */
function oneNodeConfig(port: number, config: Record<string, unknown>): Record<string, unknown> {
  return {
    identityDir: 'node',
    registryFile: 'registry.json',
    subnet: 's1',
    listen: `127.0.0.1:${port}`,
    api: '127.0.0.1:0',
    ...config,
  };
}

/**
 * Starts one daemon in-process, in a fresh {@link oneNodeDir}: `config` (channels, limits, ...)
 * over the node's identity, registry, subnet and addresses; a silent logger; `chunkStores`, if
 * given. Returns its folder, the daemon, and its API's base URL.
 */
export async function startOneDaemon(
  prefix: string,
  config: Record<string, unknown>,
  opts: { chunkStores?: Record<string, ChunkStore>; logger?: Logger } = {},
): Promise<{ dir: string; daemon: Daemon; base: string }> {
  const { dir, port } = await oneNodeDir(prefix);
  const parsed = parseDaemonConfig(oneNodeConfig(port, config), dir);
  const daemon = await startDaemon(parsed, { logger: silentLogger(), ...opts });
  registerApiToken(daemon.apiUrl, daemon.apiToken);
  return { dir, daemon, base: daemon.apiUrl };
}

/**
 * Starts one `subnet-p2p node` process in a fresh {@link oneNodeDir}: `config` over the node's
 * identity, registry, subnet and addresses. Returns its folder, the process (ready: its token
 * known) and its API's base URL. Dispose of the process, and remove the folder, when done.
 */
export async function startOneDaemonProcess(
  prefix: string,
  config: Record<string, unknown> = {},
): Promise<{ dir: string; daemon: DaemonProcess; base: string }> {
  const { dir, port } = await oneNodeDir(prefix);
  const file = await writeConfig(dir, 'node', oneNodeConfig(port, config));
  const daemon = new DaemonProcess(file);
  try {
    return { dir, daemon, base: await daemon.ready };
  } catch (err) {
    await daemon.dispose();
    throw err;
  }
}

/** What {@link rawExchange} got back: the status (undefined: closed without an answer). */
export interface RawAnswer {
  status: number | undefined;
  head: string;
  body: string;
}

/**
 * Sends `bytes` as they are on a new TCP connection to `port` on 127.0.0.1 and collects what
 * comes back until the server closes the connection (send `Connection: close` for a well-formed
 * request) or `ms` pass (as on an idle machine: scaled by the slowdown factor), then closes it.
 */
export function rawExchange(port: number, bytes: string | Buffer, ms = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const pieces: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(pieces).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({
        status: m ? Number(m[1]) : undefined,
        head,
        body: end < 0 ? '' : text.slice(end + 4),
      });
    };
    const timer = setTimeout(finish, slow(ms));
    socket.on('data', (d: Buffer) => pieces.push(d));
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.write(bytes);
  });
}

/**
 * A chunked artifact of 3 chunks of `chunkBytes` (each all 7s) whose first chunk only a store
 * holds, as after a download interrupted by a restart: put it in with `store.open(id,
 * manifest)` and `store.put(id, 0, part)`.
 */
export function partialChunked(chunkBytes: number): {
  id: ArtifactId;
  manifest: Uint8Array;
  part: Buffer;
} {
  const part = Buffer.alloc(chunkBytes, 7);
  const manifest = encodeManifest({
    chunkBytes,
    totalBytes: 3 * chunkBytes,
    hashes: [0, 1, 2].map(() => createHash('sha256').update(part).digest()),
  });
  return { id: manifestId(manifest), manifest, part };
}
