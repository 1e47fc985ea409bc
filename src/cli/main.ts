/**
 * The `subnet-p2p` command line. Each command lives in its own file and registers itself on
 * the program built here; add new ones in {@link buildProgram} (with `program.command()`).
 * Expected failures print `error: <message>` and exit 1; usage errors exit 2.
 * @module
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { SubnetP2pError } from '../errors.ts';
import { registerDemoCommand } from './demo.ts';
import { type CliIo, processIo } from './io.ts';
import { registerKeygenCommand } from './keygen.ts';
import { registerNodeCommand } from './node.ts';
import { registerRegistryCommands } from './registry.ts';
import { registerSimCommand } from './sim.ts';
import { registerStatusCommand } from './status.ts';

/** Exit code of a command that failed in an expected way (bad input, refused, invalid file). */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error (unknown command or option, missing argument). */
export const EXIT_USAGE = 2;

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Builds the `subnet-p2p` program with all its commands, writing to `io`. */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('subnet-p2p')
    .description('secure broadcast among the nodes of a permissioned subnet')
    .version(version);
  registerKeygenCommand(program, io);
  registerRegistryCommands(program, io);
  registerNodeCommand(program, io);
  registerDemoCommand(program, io);
  registerSimCommand(program, io);
  registerStatusCommand(program, io);
  return program;
}

/** Makes `command` and its subcommands throw instead of exiting, and write to `io`. */
function capture(command: Command, io: CliIo): void {
  command.exitOverride();
  command.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const sub of command.commands) capture(sub, io);
}

/** A system error whose message is fit for a user (e.g. EACCES on an output directory). */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/**
 * Runs the CLI with `argv` (as `process.argv`: node, script, args...) and resolves to the exit
 * code. Unexpected errors (bugs) are rethrown, with their stack.
 */
export async function main(
  argv: readonly string[] = process.argv,
  io = processIo,
): Promise<number> {
  const program = buildProgram(io);
  capture(program, io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof SubnetP2pError || isSystemError(err)) {
      io.stderr(`error: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main();
