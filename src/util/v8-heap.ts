/**
 * The V8 flag a node runs with: a floor under the old generation's allocation limit.
 *
 * Why. A node moving large artifacts allocates buffers at the rate of its traffic (TLS reads,
 * reassembled messages, chunk reads), and some of them live long enough to be promoted (a
 * chunk waits for its hash, its disk write and its relays). V8 counts the external memory
 * (ArrayBuffer backing stores) allocated since the last full collection against the old
 * generation's allocation limit, and it sets that limit from the heap that survived: a node's
 * heap is about 14 MB, so the limit is 28-48 MB and 15-35 MB of buffers start a full
 * mark-compact. Measured (`--trace-gc`, 4 node processes, one 256 MiB artifact): a
 * mark-compact every 100 ms per node that freed almost nothing of the heap (15 → 13 MB) and
 * 15-25 MB of buffers, 99-141 in all. With this floor: 9, and 12-14 % less CPU
 * (docs/benchmarks.md, Large artifacts, "Full collections").
 *
 * Where it applies. The flag only takes effect for an isolate created after it is set: the
 * `subnet-p2p` command starts node with it (bin/subnet-p2p.js, its first line, which a test keeps
 * equal to {@link NODE_V8_FLAGS}); the demo passes it to its node processes and sets it before
 * its node threads start ({@link applyToNewIsolates}). An application that embeds the library
 * starts its own node: it adds the flag there (docs/deploy.md).
 * @module
 */
import { setFlagsFromString } from 'node:v8';

/** The old generation's allocation limit never falls below this, MB. */
export const HEAP_FLOOR_MB = 96;

/** The node flags a subnet-p2p node process runs with. */
export const NODE_V8_FLAGS: readonly string[] = Object.freeze([
  `--initial-heap-size=${HEAP_FLOOR_MB}`,
]);

let applied = false;

/**
 * Sets {@link NODE_V8_FLAGS} in this process's V8, for the isolates created from now on (worker
 * threads). Idempotent.
 */
export function applyToNewIsolates(): void {
  if (applied) return;
  applied = true;
  for (const flag of NODE_V8_FLAGS) setFlagsFromString(flag);
}
