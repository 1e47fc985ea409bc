// A test file ended from outside leaves nothing running and nothing in the temporary folder: the
// test runner ends a file past its timeout with SIGTERM, which skips `after` hooks (a timed-out
// daemon test once left four `subnet-p2p node` processes and their folders behind). The file
// here is fixtures/daemon-then-hang.ts, run as the runner runs one, then ended as the runner
// would (SIGTERM), as a terminal would (SIGINT), or by process.exit from inside.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { killGroupOf, removeTempDir, spawnGroup } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { until } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/daemon-then-hang.ts', import.meta.url));

/** Whether `pid` names a process that still runs (a zombie, dead but not yet reaped, does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...": state Z is a zombie.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Starts the fixture; resolves with it and what it started once it says so on stderr. */
async function startFixture(
  how: string,
): Promise<{ child: ChildProcess; pids: number[]; dir: string }> {
  const child = spawnGroup(process.execPath, ['--import', 'tsx', FIXTURE, how], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  for await (const line of createInterface({ input: child.stderr! })) {
    stderr += `${line}\n`;
    if (line.startsWith('leftovers: ')) {
      const { pids, dir } = JSON.parse(line.slice('leftovers: '.length)) as {
        pids: number[];
        dir: string;
      };
      return { child, pids, dir };
    }
  }
  throw new Error(`the fixture ended before it started its daemon:\n${stderr}`);
}

describe('a test file ended from outside leaves nothing behind', { timeout: slow(60_000) }, () => {
  for (const how of ['SIGTERM', 'SIGINT', 'exit'] as const) {
    it(`${how === 'exit' ? 'process.exit' : how}: its daemon and process groups are gone, its folder removed`, async (t) => {
      const { child, pids, dir } = await startFixture(how);
      t.after(async () => {
        // If the test failed: what the fixture left, gone anyway.
        killGroupOf(child);
        for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
        await removeTempDir(dir);
      });
      const [daemon, leader, grandchild] = pids as [number, number, number];
      for (const pid of pids) assert.ok(running(pid), `process ${pid} runs before the end`);
      assert.ok(existsSync(dir));

      const exited = once(child, 'exit');
      if (how === 'exit') child.stdin!.write('exit\n');
      else child.kill(how);
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      assert.equal(signal, null, 'the fixture exits by itself, having cleaned up');
      assert.equal(code, { SIGTERM: 143, SIGINT: 130, exit: 1 }[how]);

      // SIGKILL was sent before the fixture exited; the kernel may take a moment to end them.
      await until('the daemon, the leader and its child to end', async () =>
        pids.some(running) ? undefined : true,
      );
      assert.ok(!running(daemon) && !running(leader) && !running(grandchild));
      assert.equal(existsSync(dir), false, `${dir} was left behind`);
    });
  }
});
