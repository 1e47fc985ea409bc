// Runs the real `subnet-p2p` binary (bin/subnet-p2p.js) in a child process.
import { fileURLToPath } from 'node:url';
import { runGroup } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';

const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));

/** What a CLI run produced. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `subnet-p2p ...args` and waits for it, in a process group of its own (killed when this
 * test process ends, however it ends). A run that takes longer than `timeoutMs` (as on an idle
 * machine, scaled by the slowdown factor) is killed, group and all, and rejects.
 */
export async function runCli(
  args: readonly string[],
  cwd?: string,
  timeoutMs = 20_000,
): Promise<CliRun> {
  const limit = slow(timeoutMs);
  const run = await runGroup(process.execPath, [BIN, ...args], { cwd, timeoutMs: limit });
  if (run.timedOut) {
    throw new Error(`subnet-p2p ${args.join(' ')}: killed after ${limit} ms\n${run.stderr}`);
  }
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Asserts-friendly check that stderr holds one `error: ...` line and no stack trace. */
export function isCleanError(run: CliRun): boolean {
  return /^error: .+\n$/.test(run.stderr) && !/\n\s+at /.test(run.stderr);
}
