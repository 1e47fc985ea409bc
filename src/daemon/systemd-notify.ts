/**
 * Readiness and stop notified to systemd (`sd_notify`) when the daemon runs under it as a
 * `Type=notify` service (systemd sets `NOTIFY_SOCKET`). Node has no unix datagram sockets, so
 * each notification runs `systemd-notify` as a child process. Since systemd 246 that command
 * waits by default until the manager has read the message (a `BARRIER=1` message: it passes a
 * pipe and waits for the manager to close it), so the message is never lost because its sender
 * exited before systemd looked it up; and because the sender is this child, not the main
 * process, the unit needs `NotifyAccess=all` (deploy/subnet-p2p.service).
 *
 * A notification that fails (no `systemd-notify`, no answer within
 * {@link SYSTEMD_NOTIFY_TIMEOUT_MS}) is logged at warn and never stops the node.
 * @module
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log.ts';

/** Longest wait for one `systemd-notify` run, ms; after it the child is killed. */
export const SYSTEMD_NOTIFY_TIMEOUT_MS = 5000;

/** The command run for each notification (found on the PATH). */
export const SYSTEMD_NOTIFY_COMMAND = 'systemd-notify';

/** The longest STATUS= text sent (systemd shows one line in `systemctl status`). */
const MAX_STATUS_CHARS = 200;

/** One notification: readiness, or the start of the shutdown, with a status line. */
export type SystemdState = { ready: true; status: string } | { stopping: true; status: string };

/** Sends notifications to systemd; see the module's comment. */
export class SystemdNotifier {
  readonly #logger: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #inFlight = new Set<Promise<void>>();

  private constructor(logger: Logger, env: NodeJS.ProcessEnv, timeoutMs: number) {
    this.#logger = logger;
    this.#env = env;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * A notifier if `env` has a `NOTIFY_SOCKET` (the process runs under systemd as a notify
   * service), else undefined: nothing to notify.
   */
  static fromEnv(
    logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
    timeoutMs = SYSTEMD_NOTIFY_TIMEOUT_MS,
  ): SystemdNotifier | undefined {
    if (env.NOTIFY_SOCKET === undefined || env.NOTIFY_SOCKET === '') return undefined;
    return new SystemdNotifier(logger, env, timeoutMs);
  }

  /** Sends `state`; resolves when systemd has read it, or once a failure was logged. */
  notify(state: SystemdState): Promise<void> {
    const status = `--status=${state.status.replace(/\s+/g, ' ').slice(0, MAX_STATUS_CHARS)}`;
    const args = 'ready' in state ? ['--ready', status] : [status, 'STOPPING=1'];
    const what = 'ready' in state ? 'READY=1' : 'STOPPING=1';
    const run = new Promise<void>((resolve) => {
      execFile(
        SYSTEMD_NOTIFY_COMMAND,
        args,
        { env: this.#env, timeout: this.#timeoutMs, killSignal: 'SIGKILL' },
        (err, _stdout, stderr) => {
          if (err) {
            const e = err as NodeJS.ErrnoException & { killed?: boolean };
            const why = e.killed
              ? `no answer from the manager within ${this.#timeoutMs} ms`
              : e.code === 'ENOENT'
                ? `${SYSTEMD_NOTIFY_COMMAND} not found on the PATH`
                : `${e.message.trim()} ${stderr.trim()}`.trim();
            this.#logger.warn({ notify: what }, `systemd notification ${what} failed: ${why}`);
          } else {
            this.#logger.debug({ notify: what }, 'systemd notified');
          }
          resolve();
        },
      );
    });
    this.#inFlight.add(run);
    void run.then(() => this.#inFlight.delete(run));
    return run;
  }

  /** Resolves when every notification sent so far has finished (before the process exits). */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}
