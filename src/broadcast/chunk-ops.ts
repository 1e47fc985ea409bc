/**
 * The order of the chunk-store operations the core asks for: per artifact, one at a time, in
 * the order asked (an open before its writes, a delete after them), over the environment.
 * @module
 */
import type { ChunkOp, DriverEnvironment } from './environment.ts';
import type { ArtifactId } from './types.ts';

/** Per artifact, a FIFO of chunk-store operations run one after the other. */
export class ChunkOpQueue {
  readonly #env: DriverEnvironment;
  /** Per `channel:id`, its operations not done yet (the first is running). */
  readonly #queues = new Map<string, { op: ChunkOp; done: (err?: unknown) => void }[]>();

  constructor(env: DriverEnvironment) {
    this.#env = env;
  }

  /** Runs `op` once the artifact's earlier operations are done; then `done` (with its error). */
  run(channel: string, id: ArtifactId, op: ChunkOp, done: (err?: unknown) => void): void {
    const key = `${channel}:${id}`;
    const queue = this.#queues.get(key);
    if (queue) {
      queue.push({ op, done });
      return;
    }
    this.#queues.set(key, [{ op, done }]);
    this.#next(channel, id, key);
  }

  #next(channel: string, id: ArtifactId, key: string): void {
    const queue = this.#queues.get(key)!;
    const first = queue[0]!;
    this.#env.chunkOp(channel, id, first.op, (err) => {
      queue.shift();
      if (queue.length === 0) this.#queues.delete(key);
      try {
        first.done(err);
      } finally {
        if (queue.length > 0) this.#next(channel, id, key);
      }
    });
  }
}
