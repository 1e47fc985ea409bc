/**
 * The node's side of its link to the demo's orchestrator, whatever runs the node: a worker
 * thread (worker_threads parentPort; the config in `workerData`) or a child process started
 * with child_process.fork (the IPC channel, `serialization: 'advanced'`; the config in the
 * first message). node-worker.ts only sees {@link ParentChannel}.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.ts';

/** The first message of a node process: its configuration (before any {@link ToWorker}). */
export interface ConfigMessage {
  type: 'config';
  config: WorkerConfig;
}

/** The node's link to the orchestrator. */
export interface ParentChannel {
  /** What the orchestrator started the node with. */
  readonly config: WorkerConfig;
  /** Sends `msg`; does nothing once closed. */
  post(msg: FromWorker): void;
  /** Calls `listener` with every message, in order (those that came earlier, first). */
  onMessage(listener: (msg: ToWorker) => void): void;
  /**
   * Closes the link after the messages posted so far are handed over; the thread then ends
   * once idle, the process exits.
   */
  close(): void;
}

/** The link of a node run in a worker thread. */
function threadChannel(port: NonNullable<typeof parentPort>): ParentChannel {
  let closed = false;
  return {
    config: (workerData as { config: WorkerConfig }).config,
    post(msg) {
      if (!closed) port.postMessage(msg);
    },
    onMessage(listener) {
      port.on('message', listener);
    },
    close() {
      closed = true;
      port.close();
    },
  };
}

/**
 * The link of a node run as a child process: resolves once the config message came. Messages
 * after it are queued until {@link ParentChannel.onMessage}. When the channel goes away
 * without {@link ParentChannel.close} (the orchestrator died), the process exits (code 1): a
 * node process never outlives its demo.
 */
function processChannel(): Promise<ParentChannel> {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('a demo node process needs an IPC channel');
  let closing = false;
  let pending = 0;
  let flushed: (() => void) | undefined;
  let listener: ((msg: ToWorker) => void) | undefined;
  const queue: ToWorker[] = [];
  process.on('disconnect', () => process.exit(closing ? 0 : 1));
  return new Promise((resolve) => {
    process.on('message', (msg: ConfigMessage | ToWorker) => {
      if (msg.type === 'config') {
        resolve({
          config: msg.config,
          post(m) {
            if (closing || !process.connected) return;
            pending += 1;
            send(m, undefined, undefined, () => {
              pending -= 1;
              if (pending === 0) flushed?.();
            });
          },
          onMessage(l) {
            listener = l;
            for (const m of queue.splice(0)) l(m);
          },
          close() {
            if (closing) return;
            closing = true;
            const disconnect = () => {
              if (process.connected) process.disconnect();
              else process.exit(0);
            };
            if (pending === 0) disconnect();
            else flushed = disconnect;
          },
        });
      } else if (listener) listener(msg);
      else queue.push(msg);
    });
  });
}

/** The link to the orchestrator of this thread or process. */
export async function connectToParent(): Promise<ParentChannel> {
  if (parentPort !== null) return threadChannel(parentPort);
  return processChannel();
}
