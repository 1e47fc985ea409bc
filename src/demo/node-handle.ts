/**
 * The main thread's side of one demo node: starts its worker (a thread, or a process of its
 * own: node-host.ts) and turns the worker's messages (protocol.ts) into promises and the latest
 * progress figures.
 * @module
 */
import { deferred } from './deferred.ts';
import { type NodeHost, type NodeIsolation, startNodeHost } from './node-host.ts';
import type { FromWorker, NodeReport, ToWorker, WorkerConfig } from './protocol.ts';

/**
 * How long a worker gets to stop its node gracefully before it is terminated (a thread) or
 * killed with SIGKILL (a process), ms.
 */
export const STOP_GRACE_MS = 5000;

/** One node worker, seen from the main thread. */
export class NodeHandle {
  readonly index: number;
  readonly isolation: NodeIsolation;
  /** Links up, as last reported by the worker. */
  peersUp = 0;
  /** Distinct artifacts delivered, as last reported by the worker. */
  deliveries = 0;
  /** Bytes of those artifacts, as last reported by the worker. */
  receivedBytes = 0;
  /** Chunks of large artifacts verified, and in all, from the latest progress message. */
  chunksDone = 0;
  chunks = 0;
  /** When the node had every artifact of the others (shared clock, ms), once it has. */
  receivedAt: number | undefined;
  /** The node's report, once posted. */
  report: NodeReport | undefined;
  readonly #host: NodeHost;
  readonly #listening = deferred<{ nodeId: string; port: number }>();
  readonly #meshed = deferred();
  readonly #received = deferred();
  readonly #reported = deferred<NodeReport>();
  readonly #stopped = deferred();
  readonly #exited = deferred();
  #stopRequested = false;

  /**
   * Starts the worker of `config.index`, a worker thread or a process as `isolation` says (a
   * process under `commandPrefix` if given); `onFailure` is called if it fails or dies early.
   */
  constructor(
    config: WorkerConfig,
    onFailure: (message: string) => void,
    isolation: NodeIsolation = 'thread',
    commandPrefix: readonly string[] = [],
  ) {
    this.index = config.index;
    this.isolation = isolation;
    this.#host = startNodeHost(
      isolation,
      config,
      {
        message: (msg) => this.#onMessage(msg, onFailure),
        error: (message) => {
          if (!this.#stopRequested) onFailure(`node ${this.index} crashed: ${message}`);
        },
        exit: (how) => {
          this.#exited.resolve();
          this.#stopped.resolve();
          if (!this.#stopRequested) onFailure(`node ${this.index} exited early (${how})`);
        },
      },
      commandPrefix,
    );
  }

  /** Process id of the node's process; undefined when it runs in a worker thread. */
  get pid(): number | undefined {
    return this.#host.pid;
  }

  #onMessage(msg: FromWorker, onFailure: (message: string) => void): void {
    switch (msg.type) {
      case 'listening':
        this.#listening.resolve(msg);
        break;
      case 'progress':
        this.peersUp = msg.peersUp;
        this.deliveries = msg.deliveries;
        this.receivedBytes = msg.receivedBytes;
        this.chunksDone = msg.chunksDone;
        this.chunks = msg.chunks;
        break;
      case 'mesh':
        this.#meshed.resolve();
        break;
      case 'received':
        this.receivedAt = msg.at;
        this.#received.resolve();
        break;
      case 'report':
        this.report = msg.report;
        this.deliveries = Object.values(msg.report.deliveries).reduce((a, b) => a + b, 0);
        this.receivedBytes = msg.report.receivedBytes;
        this.#reported.resolve(msg.report);
        break;
      case 'failed':
        if (!this.#stopRequested) onFailure(msg.message);
        break;
      case 'stopped':
        this.#stopped.resolve();
        break;
    }
  }

  /** Resolves with the node's NodeId and port once it listens. */
  get listening(): Promise<{ nodeId: string; port: number }> {
    return this.#listening.promise;
  }

  /** Resolves once the node has links up to every other node. */
  get meshed(): Promise<void> {
    return this.#meshed.promise;
  }

  /** Resolves once the node broadcast its artifacts and received every other node's. */
  get received(): Promise<void> {
    return this.#received.promise;
  }

  /** Resolves with the node's report, once posted (ask with {@link requestReport}). */
  get reported(): Promise<NodeReport> {
    return this.#reported.promise;
  }

  /** Tells the worker that the registry file lists every node now. */
  registryWritten(): void {
    this.#post({ type: 'registry-written' });
  }

  /** Tells the worker to start its workload; `startAt` is time zero of its schedule. */
  go(startAt: number): void {
    this.#post({ type: 'go', startAt });
  }

  /** Asks the worker for its report (every node has received everything). */
  requestReport(): void {
    this.#post({ type: 'report' });
  }

  /**
   * Asks the worker to report (if it has not yet), stop its node gracefully and finish; ends it
   * (thread terminated, process killed with SIGKILL) once it has, or after
   * {@link STOP_GRACE_MS} at the latest. Resolves once the thread or process is gone.
   */
  async stop(): Promise<void> {
    this.#stopRequested = true;
    this.#post({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_GRACE_MS);
    });
    await Promise.race([this.#stopped.promise, grace]);
    clearTimeout(timer);
    await this.#host.kill();
    await this.#exited.promise;
  }

  #post(msg: ToWorker): void {
    this.#host.post(msg);
  }
}
