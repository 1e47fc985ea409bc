/**
 * Wire bytes counted by the kernel, the same way for every system: `ss -tinpH` lists every
 * established TCP socket with its owning process and `bytes_sent` (tcpi_bytes_sent: TCP payload
 * bytes the socket sent, i.e. everything written below TLS or noise, record and frame headers,
 * handshakes, control messages and retransmissions included; IP and TCP headers excluded).
 * A snapshot keeps the sockets of the given processes; the bytes of a round are the difference
 * of two snapshots, socket by socket.
 * @module
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Bytes sent per socket ("local peer"), of the given processes. */
export type WireSnapshot = Map<string, number>;

/** Parses `ss -tinpH` output: sockets of `pids` with their `bytes_sent` (0 if not shown). */
export function parseSs(text: string, pids: ReadonlySet<number>): WireSnapshot {
  const out: WireSnapshot = new Map();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    if (!/^\s/.test(line)) {
      // "<recv-q> <send-q> <local> <peer> users:(("node",pid=123,fd=20))" (state omitted by -H
      // with a state filter).
      const fields = line.trim().split(/\s+/);
      const pidMatch = /pid=(\d+)/.exec(line);
      const local = fields.find((f) => /:\d+$/.test(f));
      const peer = local === undefined ? undefined : fields[fields.indexOf(local) + 1];
      current =
        pidMatch && pids.has(Number(pidMatch[1])) && local && peer ? `${local} ${peer}` : undefined;
      if (current !== undefined) out.set(current, 0);
    } else if (current !== undefined) {
      const sent = /\bbytes_sent:(\d+)/.exec(line);
      if (sent) out.set(current, Number(sent[1]));
      current = undefined;
    }
  }
  return out;
}

/** Snapshot of the established TCP sockets of `pids`; null if `ss` cannot be run. */
export async function wireSnapshot(pids: ReadonlySet<number>): Promise<WireSnapshot | null> {
  try {
    const { stdout } = await run('ss', ['-tinpH', 'state', 'established'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return parseSs(stdout, pids);
  } catch {
    return null;
  }
}

/** What the sockets sent between two snapshots. */
export interface WireDelta {
  bytes: number;
  /** Sockets seen in `after` (of the processes). */
  sockets: number;
  /** Sockets of `before` gone by `after`: their bytes of the interval are missing. */
  socketsLost: number;
}

export function wireDelta(before: WireSnapshot, after: WireSnapshot): WireDelta {
  let bytes = 0;
  for (const [key, sent] of after) bytes += sent - (before.get(key) ?? 0);
  let socketsLost = 0;
  for (const key of before.keys()) if (!after.has(key)) socketsLost += 1;
  return { bytes, sockets: after.size, socketsLost };
}
