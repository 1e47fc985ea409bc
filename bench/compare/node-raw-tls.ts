/**
 * A raw-TLS node process of the comparison, the ceiling: one mutual TLS 1.3 connection per pair
 * of nodes (plain `node:tls`, see raw-links.ts), and no protocol beyond a 4-byte length prefix.
 * The origin writes each artifact straight to every other node, once; receivers cut the stream
 * at the prefixes. Nothing is relayed, retried, hashed or flow-controlled: what is left is the
 * cost of TLS and sockets.
 * @module
 */
import { runNodeProcess, type SystemNode } from './node-process.ts';
import type { NodeSetup } from './protocol.ts';
import { frameHead, RawLinks, writeParts } from './raw-links.ts';

class RawTlsNode implements SystemNode {
  #links: RawLinks | undefined;

  start(setup: NodeSetup, deliver: (bytes: Uint8Array) => void): Promise<string> {
    this.#links = new RawLinks(setup, deliver);
    return this.#links.listen();
  }

  connect(addresses: readonly string[]): Promise<void> {
    return this.#links!.connect(addresses);
  }

  broadcast(bytes: Uint8Array): void {
    const parts = [frameHead(bytes.length), bytes];
    for (const s of this.#links!.sockets) writeParts(s, parts);
  }

  counters(): Record<string, number> {
    return {};
  }

  /** Every frame is a first copy: nothing is relayed. */
  payloadCopies(): null {
    return null;
  }

  async stop(): Promise<void> {
    this.#links?.stop();
  }
}

runNodeProcess(new RawTlsNode());
