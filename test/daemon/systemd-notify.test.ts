// Readiness and stop notified to systemd: a node started with NOTIFY_SOCKET sends READY=1 once
// its API listens and STOPPING=1 at SIGTERM. The socket is a real unix datagram socket, bound by
// a small python3 process that plays the manager's part: it prints each message and closes the
// file descriptors that come with it (systemd-notify's BARRIER=1 waits for that, as for
// systemd). Without python3 or systemd-notify the test is skipped, saying which is missing.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, spawnGroup, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { within } from './helpers.ts';
import { msgIs, NodeRun, type OneNode, oneSignedNode, onPath } from './lifecycle-helpers.ts';

/** Binds a datagram socket at argv[1], then prints every message as a JSON line. */
const MANAGER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(64))
    fds = array.array("i")
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    for fd in fds:
        os.close(fd)
    print(json.dumps({"message": data.decode(), "fds": len(fds)}), flush=True)
`;

const python = onPath('python3');
const notify = onPath('systemd-notify');
const missing =
  python === undefined
    ? 'python3 (to bind the notification socket) is not installed here'
    : notify === undefined
      ? 'systemd-notify is not installed here'
      : undefined;

/** The python3 manager: its messages, and a wait for the next one. */
class FakeManager {
  readonly child: ChildProcess;
  readonly messages: { message: string; fds: number }[] = [];
  readonly #waiters = new Set<() => void>();
  readonly bound: Promise<void>;

  constructor(socketPath: string) {
    this.child = spawnGroup(python!, ['-c', MANAGER, socketPath], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let onBound: () => void = () => undefined;
    this.bound = new Promise((resolve) => {
      onBound = resolve;
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const v = JSON.parse(line) as { bound?: true; message?: string; fds?: number };
      if (v.bound) onBound();
      else this.messages.push({ message: v.message!, fds: v.fds! });
      for (const w of this.#waiters) w();
    });
  }

  /** The first message (from index `from`) with the line `line` (e.g. READY=1). */
  waitFor(line: string, from = 0): Promise<{ fields: Map<string, string>; index: number }> {
    return new Promise((resolve) => {
      const check = () => {
        for (let i = from; i < this.messages.length; i += 1) {
          const fields = new Map(
            this.messages[i]!.message.split('\n').map((l) => {
              const eq = l.indexOf('=');
              return [l.slice(0, eq), l.slice(eq + 1)] as const;
            }),
          );
          if (this.messages[i]!.message.split('\n').includes(line)) {
            this.#waiters.delete(check);
            resolve({ fields, index: i });
            return;
          }
        }
      };
      this.#waiters.add(check);
      check();
    });
  }
}

describe('systemd notifications', { timeout: slow(90_000), skip: missing ?? false }, () => {
  let dir: string;
  let node: OneNode;
  let manager: FakeManager;
  const runs: NodeRun[] = [];

  before(async () => {
    dir = await tempDir('subnet-p2p-notify-');
    node = await oneSignedNode(dir);
    manager = new FakeManager(join(dir, 'notify.sock'));
    await within(20_000, manager.bound, 'the notification socket bound');
  });
  after(async () => {
    for (const run of runs) await run.dispose();
    manager?.child.kill('SIGKILL');
    await removeTempDir(dir);
  });

  it('READY=1 once the API listens, STOPPING=1 at SIGTERM, then exit 0', async () => {
    const run = new NodeRun(node.config, [], { NOTIFY_SOCKET: join(dir, 'notify.sock') });
    runs.push(run);
    const ready = await within(30_000, manager.waitFor('READY=1'), 'READY=1');
    const status = ready.fields.get('STATUS') ?? '';
    assert.match(
      status,
      new RegExp(`^ready: node ${node.identity.nodeId}, API 127\\.0\\.0\\.1:\\d+$`),
    );
    // systemd-notify waited for the manager (BARRIER=1 with a descriptor, closed by it).
    await within(10_000, manager.waitFor('BARRIER=1', ready.index), 'the barrier');
    // The API listens when READY=1 arrives: the port in STATUS answers at once.
    const api = /API (\S+)$/.exec(status)![1]!;
    const res = await fetch(`http://${api}/healthz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(manager.messages.filter((m) => m.message.includes('STOPPING=1')).length, 0);

    run.kill('SIGTERM');
    const stopping = await within(30_000, manager.waitFor('STOPPING=1', ready.index), 'STOPPING=1');
    assert.equal(stopping.fields.get('STATUS'), 'stopping (SIGTERM)');
    assert.deepEqual(await within(30_000, run.exited, 'the exit'), { code: 0, signal: null });
    const warnings = run.logs().filter(msgIs(/^systemd notification/));
    assert.deepEqual(warnings, []);
  });

  it('a socket nobody reads: the node warns, runs and stops as usual', async () => {
    const run = new NodeRun(node.config, [], { NOTIFY_SOCKET: join(dir, 'nobody.sock') });
    runs.push(run);
    const warned = await run.waitForLog(
      'the failed READY=1',
      msgIs(/^systemd notification READY=1 failed/),
    );
    assert.equal(warned.entry.level, 40);
    run.kill('SIGTERM');
    await run.waitForLog('node stopped', msgIs('node stopped'));
    assert.deepEqual(await within(30_000, run.exited, 'the exit'), { code: 0, signal: null });
  });
});
