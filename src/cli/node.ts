/**
 * `subnet-p2p node --config FILE`: runs one node with its local HTTP API until SIGTERM or
 * SIGINT, then shuts down gracefully. SIGHUP re-reads the registry and the config file
 * (daemon/reload.ts). A node the registry no longer lists exits 0 after `limits.removedGraceMs`
 * (daemon/removal.ts). Under systemd (`NOTIFY_SOCKET`), readiness and the stop are notified
 * (daemon/systemd-notify.ts). Everything it says while it runs is a pino log line on stdout, JSON
 * unless `--log-format pretty`. A bad config (or a file it names that cannot be used) exits
 * with code 2 and one `error:` line on stderr naming the field; `--check` stops there, starting
 * nothing, and prints a summary of a good config.
 * @module
 */
import { type Command, CommanderError, Option } from 'commander';
import type { DaemonConfig, LogFormat } from '../daemon/config.ts';
import type { CheckSummary } from '../daemon/config-files.ts';
import type { Daemon } from '../daemon/run-daemon.ts';
import { ConfigError } from '../errors.ts';
import type { CliIo } from './io.ts';

/** Exit code of a bad config (as a usage error). */
const EXIT_CONFIG = 2;

/** The signals that stop the node. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** The first of `signals` the process receives; `cancel` removes the handlers. */
function onceSignal(signals: readonly NodeJS.Signals[]): {
  promise: Promise<NodeJS.Signals>;
  cancel(): void;
} {
  let cancel: () => void = () => undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    const handlers = signals.map((signal) => {
      const handler = () => {
        cancel();
        resolve(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    cancel = () => {
      for (const [s, h] of handlers) process.off(s, h);
    };
  });
  return { promise, cancel };
}

/** Runs `fn`; a ConfigError becomes the `error:` line and exit code 2. */
async function orConfigExit<T>(io: CliIo, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`error: ${err.message}\n`);
      throw new CommanderError(EXIT_CONFIG, err.code, err.message);
    }
    throw err;
  }
}

/** The summary `node --check` prints for a good config. */
export function formatCheckSummary(file: string, config: DaemonConfig, s: CheckSummary): string {
  const host = (h: { host: string; port: number }) =>
    h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
  const signed =
    s.operatorKey === undefined
      ? 'no registryPublicKey: any valid version is adopted'
      : `versions signed by operator key ${s.operatorKey}`;
  const membership =
    s.listedAt === undefined
      ? `NOT listed in registry version ${s.registryVersion}: the node would exit ` +
        `${config.limits.removedGraceMs} ms after start unless listed by then`
      : `listed at ${s.listedAt} in registry version ${s.registryVersion}`;
  const rows = [
    ['node', s.nodeId],
    ['subnet', `${s.subnet}, ${membership}`],
    ['registry', `${config.registryFile} (${signed})`],
    ['listen', host(config.listen)],
    ['api', `${config.apiTls === undefined ? 'http' : 'https'}://${host(config.api)}`],
    ['dataDir', `${config.dataDir} (writable)`],
    ['channels', Object.keys(config.channels).join(', ')],
  ];
  return `config ok: ${file}\n${rows.map(([k, v]) => `  ${k!.padEnd(9)} ${v}\n`).join('')}`;
}

/** Registers `node` on `program`. */
export function registerNodeCommand(program: Command, io: CliIo): void {
  program
    .command('node')
    .description(
      'run one node with its local HTTP API (status page, metrics, artifacts) until SIGTERM ' +
        'or SIGINT; SIGHUP re-reads the registry and the config file',
    )
    .requiredOption('--config <file>', 'the node config, JSON (see docs/deploy.md)')
    .option(
      '--check',
      'check the config and every file it names, print a summary and exit (0 good, 2 bad); ' +
        'starts nothing',
    )
    .addOption(
      new Option(
        '--log-format <format>',
        "log lines: json, or pretty (default: the config's)",
      ).choices(['json', 'pretty']),
    )
    .action(async (options: { config: string; check?: true; logFormat?: LogFormat }) => {
      // Loaded here, not with the CLI: other commands start without the daemon's modules.
      const { loadDaemonConfig } = await import('../daemon/config.ts');
      const config = await orConfigExit(io, () => loadDaemonConfig(options.config));
      if (options.check) {
        const { checkDaemonConfig } = await import('../daemon/config-files.ts');
        const summary = await orConfigExit(io, () => checkDaemonConfig(config));
        io.stdout(formatCheckSummary(options.config, config, summary));
        return;
      }
      await runNode(options.config, config, options.logFormat ?? config.logFormat, io);
    });
}

/** Runs the node until a stop signal or its removal from the registry; see the module. */
async function runNode(
  configFile: string,
  config: DaemonConfig,
  format: LogFormat,
  io: CliIo,
): Promise<void> {
  const [{ createDaemonLogger }, { startDaemon }, { reloadDaemon }, { removalMessage }, notify] =
    await Promise.all([
      import('../daemon/daemon-logger.ts'),
      import('../daemon/run-daemon.ts'),
      import('../daemon/reload.ts'),
      import('../daemon/removal.ts'),
      import('../daemon/systemd-notify.ts'),
    ]);
  const { logger, setLevel } = await createDaemonLogger({ level: config.logLevel, format });

  // SIGHUP is handled from now on (its default action ends the process): during the start it
  // is remembered, and the reload runs once the node is up. Reloads run one after another.
  let daemon: Daemon | undefined;
  let stopping = false;
  let hupWhileStarting = false;
  let running = config;
  let reloads = Promise.resolve();
  const reload = (d: Daemon) => {
    reloads = reloads
      .then(async () => {
        if (stopping) return;
        ({ running } = await reloadDaemon({ configFile, running, daemon: d, logger, setLevel }));
      })
      .catch((err: unknown) => logger.error({ err }, 'reload failed'));
  };
  const onHup = () => {
    if (daemon === undefined) hupWhileStarting = true;
    else reload(daemon);
  };
  process.on('SIGHUP', onHup);
  // So are the stop signals: one that comes during the start (or right after its 'node ready'
  // line) stops the node gracefully once it is up, instead of killing it.
  const signal = onceSignal(STOP_SIGNALS);
  try {
    daemon = await orConfigExit(io, () => startDaemon(config, { logger }));
  } catch (err) {
    signal.cancel();
    process.off('SIGHUP', onHup);
    throw err;
  }
  const notifier = notify.SystemdNotifier.fromEnv(logger);
  const api = `${daemon.api.host}:${daemon.api.port}`;
  void notifier?.notify({ ready: true, status: `ready: node ${daemon.node.nodeId}, API ${api}` });
  if (hupWhileStarting) reload(daemon);

  const why = await Promise.race([
    signal.promise.then((s) => ({ signal: s }) as const),
    daemon.removed.then((removal) => ({ removal }) as const),
  ]);
  signal.cancel();
  stopping = true;
  // A signal during the graceful shutdown stops at once.
  const forced = onceSignal(STOP_SIGNALS);
  void forced.promise.then((again) => {
    logger.error({ signal: again }, `${again} during shutdown; exiting now`);
    process.exit(1);
  });
  let status: string;
  if ('signal' in why) {
    logger.info({ signal: why.signal }, `${why.signal}: shutting down`);
    status = `stopping (${why.signal})`;
  } else {
    status = removalMessage(why.removal);
    logger.warn({ version: why.removal.version, wasListed: why.removal.wasListed }, status);
  }
  void notifier?.notify({ stopping: true, status });
  await daemon.stop();
  await reloads;
  await notifier?.settled();
  forced.cancel();
  process.off('SIGHUP', onHup);
}
