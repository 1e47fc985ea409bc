/**
 * `subnet-p2p node --config FILE`: runs one node with its local HTTP API until SIGTERM or
 * SIGINT, then shuts down gracefully. SIGHUP re-reads the registry file at once. A bad config
 * (or a file it names that cannot be used) exits with code 2 and names the field.
 * @module
 */
import { type Command, CommanderError } from 'commander';
import type { startDaemon } from '../daemon/run-daemon.ts';
import { ConfigError } from '../errors.ts';
import type { CliIo } from './io.ts';

/** Exit code of a bad config (as a usage error). */
const EXIT_CONFIG = 2;

/** Resolves with the first of `signals` the process receives. */
function nextSignal(signals: readonly NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handlers = signals.map((signal) => {
      const handler = () => {
        for (const [s, h] of handlers) process.off(s, h);
        resolve(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });
  });
}

/** Registers `node` on `program`. */
export function registerNodeCommand(program: Command, io: CliIo): void {
  program
    .command('node')
    .description(
      'run one node with its local HTTP API (status page, metrics, artifacts) until SIGTERM ' +
        'or SIGINT; SIGHUP re-reads the registry file now',
    )
    .requiredOption('--config <file>', 'the node config, JSON (see docs/deploy.md)')
    .action(async (options: { config: string }) => {
      let daemon: Awaited<ReturnType<typeof startDaemon>>;
      try {
        // Loaded here, not with the CLI: other commands start without the daemon's modules.
        const [{ loadDaemonConfig }, { startDaemon }] = await Promise.all([
          import('../daemon/config.ts'),
          import('../daemon/run-daemon.ts'),
        ]);
        daemon = await startDaemon(await loadDaemonConfig(options.config));
      } catch (err) {
        if (err instanceof ConfigError) {
          io.stderr(`error: ${err.message}\n`);
          throw new CommanderError(EXIT_CONFIG, err.code, err.message);
        }
        throw err;
      }
      const onHup = () => void daemon.reloadRegistry();
      process.on('SIGHUP', onHup);
      const signal = await nextSignal(['SIGTERM', 'SIGINT']);
      process.off('SIGHUP', onHup);
      // A second signal during the graceful shutdown stops at once.
      const forced = nextSignal(['SIGTERM', 'SIGINT']).then((again) => {
        io.stderr(`error: ${again} during shutdown; exiting now\n`);
        process.exit(1);
      });
      void forced;
      io.stderr(`${signal}: shutting down\n`);
      await daemon.stop();
    });
}
