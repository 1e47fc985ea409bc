import { Lane, type TransportLimits } from '../../src/transport/index.ts';
import { startSubnet, stopAll, type TestNode } from './subnet.ts';

/** Blocks the event loop for `ms`, as an overloaded machine does. */
export function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the event loop is blocked
  }
}

export interface BusyReceiverOptions {
  limits: Partial<TransportLimits>;
  /** Bulk messages node a sends to node b. */
  messages: number;
  /** Bytes of each. */
  size: number;
  /** How long each bulk message blocks the receiver's loop, ms. */
  busyMs: number;
  /** The receiver answers each with a high-lane message (crucial traffic it must keep flowing). */
  answerHigh?: boolean;
}

/**
 * Two nodes with `limits`: a sends `messages` bulk messages of `size` bytes to b, whose loop
 * each one blocks for `busyMs`. Resolves once every message arrived, with `inspect(b)` (read
 * before the nodes stop); never resolves if the transfer stalls.
 */
export async function bulkToBusyReceiver<T>(
  opts: BusyReceiverOptions,
  inspect: (receiver: TestNode) => Promise<T>,
): Promise<{ received: number; inspected: T }> {
  let nodes: TestNode[] = [];
  let received = 0;
  let allReceived: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allReceived = resolve;
  });
  try {
    nodes = await startSubnet(2, {
      limits: opts.limits,
      onMessage: (m) => {
        if (m.lane !== Lane.bulk) return;
        busy(opts.busyMs);
        if (opts.answerHigh) void nodes[1]!.transport.send(m.peer, Lane.high, Buffer.from('vote'));
        if (++received === opts.messages) allReceived();
      },
    });
    const [a, b] = nodes as [TestNode, TestNode];
    await Promise.all(
      Array.from({ length: opts.messages }, (_, i) =>
        a.transport.send(b.identity.nodeId, Lane.bulk, Buffer.alloc(opts.size, i)),
      ),
    );
    await done;
    return { received, inspected: await inspect(b) };
  } finally {
    await stopAll(nodes);
  }
}
