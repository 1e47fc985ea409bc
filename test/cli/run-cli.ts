// Runs the real `subnet-p2p` binary (bin/subnet-p2p.js) in a child process.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));

/** What a CLI run produced. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `subnet-p2p ...args` and waits for it. */
export function runCli(args: readonly string[], cwd?: string): CliRun {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Asserts-friendly check that stderr holds one `error: ...` line and no stack trace. */
export function isCleanError(run: CliRun): boolean {
  return /^error: .+\n$/.test(run.stderr) && !/\n\s+at /.test(run.stderr);
}
