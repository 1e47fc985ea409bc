/**
 * Helpers of the process-lifecycle tests (check, SIGHUP, removal, systemd, log lines): a signed
 * one-node subnet made with the library (no CLI runs), registry versions edited and signed in
 * place, and a `subnet-p2p node` process with extra arguments and environment whose every
 * stdout and stderr line is kept raw.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateIdentity, type NodeIdentity, writeIdentity } from '../../src/identity/index.ts';
import {
  addNode,
  generateOperatorKeyPair,
  initRegistry,
  type OperatorKeyPair,
  type RegistryDocument,
  readRegistryFile,
  removeNode,
  signRegistry,
  writeOperatorKeyPair,
  writeRegistryFile,
} from '../../src/registry/index.ts';
import { killGroupOf, spawnGroup } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { freePort, writeNodeConfig } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));

/** One node of subnet `s1` in `dir`: keys in `node0/`, operator keys, a signed registry. */
export interface OneNode {
  dir: string;
  identity: NodeIdentity;
  operator: OperatorKeyPair;
  address: string;
  registryFile: string;
  /** `node0.json`: loopback, API port 0, info logs, a 100 ms registry poll, and `opts`. */
  config: string;
}

/** Makes a {@link OneNode} in `dir` (a fresh temporary folder). */
export async function oneSignedNode(
  dir: string,
  opts: Parameters<typeof writeNodeConfig>[3] = {},
): Promise<OneNode> {
  const identity = await generateIdentity();
  await writeIdentity(join(dir, 'node0'), identity);
  const operator = generateOperatorKeyPair();
  await writeOperatorKeyPair(join(dir, 'operator'), operator);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const registryFile = join(dir, 'registry.json');
  const doc = addNode(initRegistry(), {
    subnet: 's1',
    address,
    certificatePem: identity.certificatePem,
  });
  await writeRegistryFile(registryFile, signRegistry(doc, operator.privateKeyPem));
  const config = await writeNodeConfig(dir, 0, port, opts);
  return { dir, identity, operator, address, registryFile, config };
}

/**
 * Writes the next registry version, `edit` of the current one, signed by the operator
 * (atomically, as the docs ask). Returns its version.
 */
export async function editRegistry(
  node: OneNode,
  edit: (doc: RegistryDocument) => RegistryDocument,
): Promise<number> {
  const next = edit(await readRegistryFile(node.registryFile));
  await writeRegistryFile(node.registryFile, signRegistry(next, node.operator.privateKeyPem));
  return next.version;
}

/** The next version without the node; then {@link relist} puts it back. */
export const unlist = (node: OneNode) =>
  editRegistry(node, (d) => removeNode(d, node.identity.nodeId));

/** The next version with the node listed again at its address. */
export const relist = (node: OneNode) =>
  editRegistry(node, (d) =>
    addNode(d, {
      subnet: 's1',
      address: node.address,
      certificatePem: node.identity.certificatePem,
    }),
  );

/** One line a node wrote, with the stream it came on. */
export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

/**
 * `subnet-p2p node --config <config> ...args` with `env` added, in a process group of its own
 * (killed however the test ends). Every output line is kept; {@link waitForLog} waits for a
 * JSON log line.
 */
export class NodeRun {
  readonly child: ChildProcess;
  readonly lines: OutputLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters = new Set<() => void>();
  /** The process ended and its output was read to the end. */
  #closed = false;

  constructor(config: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}) {
    this.child = spawnGroup(process.execPath, [BIN, 'node', '--config', config, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.child[stream]! }).on('line', (text) => {
        this.lines.push({ stream, text });
        for (const w of this.#waiters) w();
      });
    }
    // 'close': the output streams are read to their end.
    this.exited = once(this.child, 'close').then(([code, signal]) => {
      this.#closed = true;
      for (const w of this.#waiters) w();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  /** The stdout lines that parse as JSON objects, parsed. */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap(({ stream, text }) => {
      if (stream !== 'stdout') return [];
      try {
        const v = JSON.parse(text) as unknown;
        return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  /**
   * Resolves with the first log line (from index `from` of {@link logs}) that `match` accepts;
   * rejects if the process ends first or after `timeoutMs` (scaled by the slowdown factor).
   */
  waitForLog(
    what: string,
    match: (entry: Record<string, unknown>) => boolean,
    opts: { from?: number; timeoutMs?: number } = {},
  ): Promise<{ entry: Record<string, unknown>; index: number }> {
    return this.waitFor(
      what,
      () => {
        const logs = this.logs();
        for (let i = opts.from ?? 0; i < logs.length; i += 1) {
          if (match(logs[i]!)) return { entry: logs[i]!, index: i };
        }
        return undefined;
      },
      opts.timeoutMs,
    );
  }

  /** Resolves with the first output line, JSON or not, that `match` accepts (as waitForLog). */
  waitForLine(what: string, match: (line: OutputLine) => boolean): Promise<OutputLine> {
    return this.waitFor(what, () => this.lines.find(match));
  }

  /**
   * Resolves with what `find` returns once it is not undefined, checked on every new line; rejects
   * if the process ends first or after `timeoutMs` (default 20 s, scaled by the slowdown factor).
   */
  waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    const limit = slow(timeoutMs);
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.#closed) {
          done();
          reject(new Error(`node ended before ${what}:\n${this.output()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${limit} ms waiting for ${what}:\n${this.output()}`));
      }, limit);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Everything the node wrote, for failure messages. */
  output(): string {
    return this.lines.map((l) => `${l.stream}: ${l.text}`).join('\n');
  }

  /** Sends `signal` to the node process. */
  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the group if it still runs, and waits for the end. */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) killGroupOf(this.child);
    await this.exited;
  }
}

/** Whether a log line's `msg` is `msg` (or matches it). */
export function msgIs(msg: string | RegExp): (entry: Record<string, unknown>) => boolean {
  return (e) =>
    typeof e.msg === 'string' && (typeof msg === 'string' ? e.msg === msg : msg.test(e.msg));
}

/** The path of `command` on the PATH (an executable file), or undefined. */
export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}
