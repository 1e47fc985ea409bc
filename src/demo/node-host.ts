/**
 * What runs one demo node, seen from the orchestrator: a worker thread of the demo process
 * (the default) or a child process of its own (`nodeProcesses`). Both run node-worker.ts
 * through node-bootstrap.mjs and exchange the messages of protocol.ts; NodeHandle does not
 * see which.
 *
 * A node process may run under a command prefix, e.g. `ip netns exec <ns>` to put it in a
 * network namespace of its own: the prefix must exec the node in place (so that the child's pid
 * and signals are the node's) and keep its file descriptors (the IPC channel is one).
 *
 * Node processes never outlive the demo: they are killed (SIGKILL) when the demo process exits
 * or gets SIGINT, SIGTERM or SIGHUP, and a node process whose IPC channel closes (the demo
 * process died, even by SIGKILL) exits by itself (parent-channel.ts). {@link superviseChild}
 * gives other helper processes of the demo the same treatment.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { applyToNewIsolates, NODE_V8_FLAGS } from '../util/v8-heap.ts';
import { deferred } from './deferred.ts';
import type { ConfigMessage } from './parent-channel.ts';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.ts';

/**
 * Compiled (dist/, the installed package) or run from the TypeScript sources (tests and
 * benchmarks under tsx). Compiled, a node runs node-worker.js directly; from the sources, it
 * runs node-bootstrap.mjs, a plain-JS entry that registers tsx, then imports node-worker.ts.
 */
const COMPILED = import.meta.url.endsWith('.js');
const ENTRY = new URL(COMPILED ? './node-worker.js' : './node-worker.ts', import.meta.url);
/** What a node thread or process starts with: [the script, its arguments]. */
const START: readonly [URL, readonly string[]] = COMPILED
  ? [ENTRY, []]
  : [new URL('./node-bootstrap.mjs', import.meta.url), [ENTRY.href]];

/** How each demo node runs: a worker thread of the demo process, or a process of its own. */
export type NodeIsolation = 'thread' | 'process';

/** Where one demo node runs (and, with it, its end of the raw ceiling's star). */
export interface NodePlacement {
  /**
   * Command its process runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` (node processes only);
   * it must exec the node in place and keep its file descriptors. Default: none.
   */
  readonly commandPrefix?: readonly string[];
  /** Address it listens on, and is listed at in the registry. Default: 127.0.0.1. */
  readonly listenHost?: string;
}

/** What a host tells its handle. */
export interface NodeHostEvents {
  message(msg: FromWorker): void;
  /** The thread or process failed (an uncaught error in a thread; a process not started). */
  error(message: string): void;
  /** It is gone: `how` says with which exit code or signal, and why if known. */
  exit(how: string): void;
}

/** One running node thread or process. */
export interface NodeHost {
  /** Process id of a node process; undefined for a thread. */
  readonly pid: number | undefined;
  /** Sends `msg`; dropped if the thread or process is gone (its exit reports that). */
  post(msg: ToWorker): void;
  /** Ends it now unless gone (a thread is terminated, a process gets SIGKILL); resolves once gone. */
  kill(): Promise<void>;
}

/**
 * Starts the node of `config` as `isolation` says; a process under `commandPrefix` if given
 * (e.g. `['ip', 'netns', 'exec', 'ns1']`; a thread cannot have one).
 */
export function startNodeHost(
  isolation: NodeIsolation,
  config: WorkerConfig,
  events: NodeHostEvents,
  commandPrefix: readonly string[] = [],
): NodeHost {
  if (isolation === 'process') return new ProcessHost(config, events, commandPrefix);
  if (commandPrefix.length > 0) throw new TypeError('a node thread cannot run under a command');
  return new ThreadHost(config, events);
}

class ThreadHost implements NodeHost {
  readonly pid = undefined;
  readonly #worker: Worker;
  readonly #exited = deferred();

  constructor(config: WorkerConfig, events: NodeHostEvents) {
    // execArgv []: the bootstrap registers tsx itself; inheriting `tsx`'s own flags would
    // load it twice.
    // The heap floor of a node process, for this thread's isolate (util/v8-heap.ts).
    applyToNewIsolates();
    this.#worker = new Worker(START[0], {
      workerData: { entry: ENTRY.href, config },
      execArgv: [],
    });
    this.#worker.on('message', events.message);
    this.#worker.on('error', (err) => events.error(err.message));
    this.#worker.on('exit', (code) => {
      this.#exited.resolve();
      events.exit(`code ${code}`);
    });
  }

  post(msg: ToWorker): void {
    this.#worker.postMessage(msg);
  }

  async kill(): Promise<void> {
    await this.#worker.terminate();
    await this.#exited.promise;
  }
}

/** Bytes of a node process's stderr kept to explain its exit. */
const STDERR_TAIL = 4096;

/** The last error line in `stderr` (`SomeError: message`), if any. */
function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim());
  return lines.reverse().find((l) => /^[A-Za-z]*Error\b.*: /.test(l));
}

class ProcessHost implements NodeHost {
  readonly pid: number | undefined;
  readonly #child: ChildProcess;
  readonly #exited = deferred();
  #stderr = '';

  constructor(config: WorkerConfig, events: NodeHostEvents, commandPrefix: readonly string[]) {
    // What fork() would run, spelt out so that it can run under a prefix: the node flags of
    // util/v8-heap.ts and no other execArgv (the bootstrap registers tsx itself, resolved from
    // this package, whatever the working directory; inheriting the flags of `tsx` or of the
    // test runner would load it twice), an IPC channel ('advanced' serialization: the reports
    // hold Float64Arrays).
    const argv = [process.execPath, ...NODE_V8_FLAGS, fileURLToPath(START[0]), ...START[1]];
    const [command, ...args] = [...commandPrefix, ...argv] as [string, ...string[]];
    const child = spawn(command, args, {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.#child = child;
    this.pid = child.pid;
    superviseChild(child);
    // Passed on as a worker thread's would be, and its tail kept to explain an early exit.
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('message', events.message);
    child.on('error', (err) => {
      events.error(err.message);
      // Not started: no exit will come.
      if (child.pid === undefined) {
        this.#exited.resolve();
        events.exit('not started');
      }
    });
    // 'close' rather than 'exit': the stderr is complete then.
    child.on('close', (code, signal) => {
      this.#exited.resolve();
      const why = lastErrorLine(this.#stderr);
      events.exit(
        `${signal === null ? `code ${code}` : `signal ${signal}`}${why ? `: ${why}` : ''}`,
      );
    });
    this.#send({ type: 'config', config });
  }

  post(msg: ToWorker): void {
    this.#send(msg);
  }

  #send(msg: ToWorker | ConfigMessage): void {
    if (!this.#child.connected) return;
    // A failed send means the process is gone or going: its exit is what gets reported.
    this.#child.send(msg, undefined, undefined, () => undefined);
  }

  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL');
    }
    await this.#exited.promise;
  }
}

/** Node processes running, killed if the demo process ends first. */
const running = new Set<ChildProcess>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Kills the node processes, then lets `signal` do what it would have done without us. */
function onSignal(signal: NodeJS.Signals): void {
  killRunning();
  running.clear();
  unwatch();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function watch(): void {
  process.on('exit', killRunning);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unwatch(): void {
  process.off('exit', killRunning);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Kills `child` (SIGKILL) if the demo process exits or gets SIGINT, SIGTERM or SIGHUP while it
 * runs, as node processes are; forgets it once it exited.
 */
export function superviseChild(child: ChildProcess): void {
  if (child.pid === undefined) return;
  if (running.size === 0) watch();
  running.add(child);
  child.once('exit', () => untrack(child));
}

function untrack(child: ChildProcess): void {
  if (!running.delete(child)) return;
  if (running.size === 0) unwatch();
}
