/**
 * What a test process starts outside itself (child processes, temporary folders) ends with it,
 * however it ends. A test's `after` hook stops and removes them as usual; but the test runner
 * ends a file that passed its timeout with SIGTERM, which skips `after` hooks, and a timed-out
 * daemon test once left four `subnet-p2p node` processes and their folders behind. So every
 * child runs in a process group of its own (`detached`), and on `exit`, SIGTERM, SIGINT or
 * SIGHUP this module kills each group still registered (SIGKILL) and removes each folder.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Process groups still running (each the pid of its leader, a child this module spawned). */
const groups = new Set<number>();
/** Temporary folders not yet removed. */
const folders = new Set<string>();
let watching = false;

/** Sends SIGKILL to every process of group `pgid`; a group already gone is not an error. */
function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Kills every group and removes every folder, synchronously (it also runs on `exit`). */
function removeAll(): void {
  for (const pgid of groups) killGroup(pgid);
  groups.clear();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true, maxRetries: 3 });
  folders.clear();
}

const SIGNALS = [
  ['SIGTERM', 143],
  ['SIGINT', 130],
  ['SIGHUP', 129],
] as const;

function watch(): void {
  if (watching) return;
  watching = true;
  process.on('exit', removeAll);
  for (const [signal, code] of SIGNALS) {
    process.once(signal, () => {
      removeAll();
      process.exit(code);
    });
  }
}

/**
 * `spawn`, with the child as the leader of a new process group, killed (the whole group) when
 * this process ends. When the leader exits, whatever it left in its group is killed too.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  watch();
  const child = spawn(command, args, { ...options, detached: true });
  const pgid = child.pid;
  if (pgid !== undefined) {
    groups.add(pgid);
    child.once('exit', () => {
      killGroup(pgid);
      groups.delete(pgid);
    });
  }
  return child;
}

/** What a finished {@link runGroup} produced. */
export interface GroupRun {
  /** Exit code; null if it was killed by a signal. */
  status: number | null;
  stdout: string;
  stderr: string;
  /** It ran past its `timeoutMs` and was killed, group and all. */
  timedOut: boolean;
}

/**
 * Runs `command args` to its end in a process group of its own ({@link spawnGroup}) and collects
 * its output. With `timeoutMs`, a run that takes longer is killed, group and all (`timedOut`).
 */
export async function runGroup(
  command: string,
  args: readonly string[],
  options: { cwd?: string | undefined; timeoutMs?: number } = {},
): Promise<GroupRun> {
  const child = spawnGroup(command, args, { cwd: options.cwd, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          killGroupOf(child);
        }, options.timeoutMs);
  try {
    const [status] = (await once(child, 'close')) as [number | null];
    return { status, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Kills the group `child` leads (SIGKILL), if it still runs. */
export function killGroupOf(child: ChildProcess): void {
  if (child.pid !== undefined && groups.has(child.pid)) killGroup(child.pid);
}

/** A new folder under the OS's temporary folder, named `<prefix>XXXXXX`, removed at exit. */
export async function tempDir(prefix: string): Promise<string> {
  watch();
  const folder = await mkdtemp(join(tmpdir(), prefix));
  folders.add(folder);
  return folder;
}

/** Removes a folder made by {@link tempDir} (in an `after` hook). */
export async function removeTempDir(folder: string | undefined): Promise<void> {
  if (folder === undefined) return;
  folders.delete(folder);
  await rm(folder, { recursive: true, force: true, maxRetries: 3 });
}
