/**
 * A lab of network namespaces for tests (test/hosts) and benchmarks (bench/large-shaped.ts),
 * made and removed by the process that uses it:
 *
 * - a "switch" namespace holding a bridge `br0`;
 * - one namespace per host, its `eth0` a veth to a port `h<i>` of the bridge, with the address
 *   `<prefix>.<i + 1>/24`;
 * - unless `testerPort: false`, one veth from the caller's own namespace into the bridge,
 *   `<prefix>.254/24`, so that the caller reaches each host directly (e.g. its HTTP API; the only
 *   change to the caller's namespace: one interface, removed with the switch).
 *
 * Names carry a random tag (unique per run). The prefix is `10.213.<n>` with `n` chosen so that
 * no route of the caller's namespace touches it. Every address used lives in these namespaces.
 *
 * Everything made is removed by {@link NetnsLab.destroy}, and also when the process exits
 * without it, or gets SIGINT, SIGTERM or SIGHUP (the signal then does what it would have done
 * without the lab, unless another listener handles it). Processes still running inside a host
 * must be ended by whoever started them; a namespace whose name is deleted lives on only until
 * its last process ends.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

const IP_CANDIDATES = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
const TC_CANDIDATES = ['/usr/sbin/tc', '/sbin/tc', '/usr/bin/tc', '/bin/tc'];

function which(candidates: readonly string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

/** Why the lab cannot be made here (not root, no `ip` or `tc`, netns refused), or undefined. */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux network namespaces (${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, tc)';
  const ip = which(IP_CANDIDATES);
  if (ip === undefined) return `needs iproute2's ip (not in ${IP_CANDIDATES.join(', ')})`;
  if (which(TC_CANDIDATES) === undefined) return 'needs iproute2 tc';
  const probe = `sp2p-probe-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync(ip, ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (e) {
    return `ip netns add failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  } finally {
    try {
      execFileSync(ip, ['netns', 'del', probe], { stdio: 'pipe' });
    } catch {
      // not made
    }
  }
  return undefined;
}

/** Options of {@link NetnsLab.create}. */
export interface NetnsLabOptions {
  /** A veth from the caller's namespace into the bridge, `<prefix>.254` (default true). */
  readonly testerPort?: boolean;
}

/** A token bucket on a host's egress, as {@link NetnsLab.limitEgress} sets it. */
export interface EgressLimit {
  /** Rate, Mbit/s (10^6 bits per second). */
  readonly rateMbit: number;
  /** Bucket size, bytes. */
  readonly burstBytes: number;
  /** Longest a packet may wait in the queue, ms (tbf's `latency`: the queue's size). */
  readonly latencyMs: number;
}

/**
 * The token bucket {@link NetnsLab.limitEgress} uses for `rateMbit`: a bucket of 2 ms at the
 * rate, at least 64 KiB (a GSO segment of the veth, which tbf would otherwise split), and a
 * queue of 20 ms, at least 256 KiB. TCP keeps such a bucket busy without a deep buffer: one
 * or twelve flows carried 95.5-96% of the rate as payload at 20, 50 and 100 Mbit/s, which is all
 * of it (tbf counts whole frames: 66 bytes of Ethernet, IP and TCP headers per 1448 of payload).
 */
export function egressLimitFor(rateMbit: number): EgressLimit {
  const bytesPerMs = (rateMbit * 1e6) / 8 / 1000;
  const burstBytes = Math.max(64 * 1024, Math.ceil(2 * bytesPerMs));
  const latencyMs = Math.max(20, Math.ceil((256 * 1024) / bytesPerMs));
  return { rateMbit, burstBytes, latencyMs };
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class NetnsLab {
  readonly ip = which(IP_CANDIDATES)!;
  readonly tc = which(TC_CANDIDATES)!;
  readonly tag = randomBytes(3).toString('hex');
  readonly switchNs = `sp2p-${this.tag}-sw`;
  readonly hostIf = `sp2p${this.tag}`;
  readonly hosts: string[];
  readonly prefix: string;
  readonly testerPort: boolean;
  readonly #made: string[] = [];
  readonly #onExit = () => this.#destroySync();
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.#unwatch();
    this.#destroySync();
    // Nobody else handles it: let it end the process as it would have.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  private constructor(count: number, prefix: string, testerPort: boolean) {
    this.hosts = Array.from({ length: count }, (_, i) => `sp2p-${this.tag}-h${i}`);
    this.prefix = prefix;
    this.testerPort = testerPort;
  }

  /**
   * Makes the switch, `count` hosts and (unless `testerPort: false`) the caller's own port.
   * Undoes it all if a step fails.
   */
  static async create(count: number, options: NetnsLabOptions = {}): Promise<NetnsLab> {
    const lab = new NetnsLab(count, NetnsLab.#freePrefix(), options.testerPort ?? true);
    process.once('exit', lab.#onExit);
    for (const s of SIGNALS) process.on(s, lab.#onSignal);
    try {
      await lab.#build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  static #freePrefix(): string {
    const ip = which(IP_CANDIDATES)!;
    const routes = execFileSync(ip, ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
    for (let attempt = 0; attempt < 64; attempt++) {
      const prefix = `10.213.${randomInt(0, 256)}`;
      if (!routes.includes(`${prefix}.`) && !routes.includes('10.213.0.0/16')) return prefix;
    }
    throw new Error('no free 10.213.x.0/24 in the routing table');
  }

  /** `<prefix>.<i + 1>`: host i's address. */
  address(i: number): string {
    return `${this.prefix}.${i + 1}`;
  }

  /** The prefix to run a command in host i's namespace (`ip netns exec`, which execs in place). */
  execPrefix(i: number): string[] {
    return [this.ip, 'netns', 'exec', this.hosts[i]!];
  }

  async #ipCmd(...args: string[]): Promise<void> {
    try {
      await run(this.ip, args);
    } catch (e) {
      throw new Error(`ip ${args.join(' ')}: ${String((e as { stderr?: string }).stderr ?? e)}`);
    }
  }

  async #build(): Promise<void> {
    const sw = this.switchNs;
    await this.#ipCmd('netns', 'add', sw);
    this.#made.push(sw);
    await this.#ipCmd('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    await this.#ipCmd('-n', sw, 'link', 'set', 'br0', 'up');
    for (const [i, ns] of this.hosts.entries()) {
      await this.#ipCmd('netns', 'add', ns);
      this.#made.push(ns);
      await this.#ipCmd('-n', ns, 'link', 'set', 'lo', 'up');
      await this.#ipCmd('-n', sw, 'link', 'add', `h${i}`, 'type', 'veth', 'peer', 'name', 'eth0');
      await this.#ipCmd('-n', sw, 'link', 'set', 'eth0', 'netns', ns);
      await this.#ipCmd('-n', sw, 'link', 'set', `h${i}`, 'master', 'br0', 'up');
      await this.#ipCmd('-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', 'eth0');
      await this.#ipCmd('-n', ns, 'link', 'set', 'eth0', 'up');
    }
    if (!this.testerPort) return;
    // The caller's own port into the switch.
    await this.#ipCmd('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'tester');
    await this.#ipCmd('link', 'set', 'tester', 'netns', sw);
    await this.#ipCmd('-n', sw, 'link', 'set', 'tester', 'master', 'br0', 'up');
    await this.#ipCmd('addr', 'add', `${this.prefix}.254/24`, 'dev', this.hostIf);
    await this.#ipCmd('link', 'set', this.hostIf, 'up');
  }

  /** Takes host i's link down (a partition: it and the others stop hearing each other). */
  linkDown(i: number): Promise<void> {
    return this.#ipCmd('-n', this.hosts[i]!, 'link', 'set', 'eth0', 'down');
  }

  linkUp(i: number): Promise<void> {
    return this.#ipCmd('-n', this.hosts[i]!, 'link', 'set', 'eth0', 'up');
  }

  /**
   * Limits host i's link to `rate` (tc syntax, e.g. `20mbit`) in both directions with a token
   * bucket filter: on its `eth0` (what it sends) and on the switch's port to it (what it gets).
   */
  async limit(i: number, rate: string, burst = '32kbit', latency = '50ms'): Promise<void> {
    const tbf = ['qdisc', 'replace', 'dev'];
    const args = ['root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency];
    await run(this.tc, ['-n', this.hosts[i]!, ...tbf, 'eth0', ...args]);
    await run(this.tc, ['-n', this.switchNs, ...tbf, `h${i}`, ...args]);
  }

  /**
   * Limits what host i sends (its `eth0`, inside its namespace) to `rateMbit` with a token
   * bucket filter ({@link egressLimitFor} unless `limit` says otherwise); what it receives is
   * not limited here. Resolves with the limit set.
   */
  async limitEgress(
    i: number,
    rateMbit: number,
    limit: EgressLimit = egressLimitFor(rateMbit),
  ): Promise<EgressLimit> {
    await run(this.tc, [
      ...['-n', this.hosts[i]!, 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf'],
      ...['rate', `${limit.rateMbit}mbit`, 'burst', String(limit.burstBytes)],
      ...['latency', `${limit.latencyMs}ms`],
    ]);
    return limit;
  }

  /** Bytes sent so far by host i's `eth0` through its root qdisc (see {@link limitEgress}). */
  async egressBytes(i: number): Promise<number> {
    const { stdout } = await run(this.tc, [
      ...['-s', '-n', this.hosts[i]!, 'qdisc', 'show', 'dev', 'eth0', 'root'],
    ]);
    const m = /Sent (\d+) bytes/.exec(stdout);
    if (m === null) throw new Error(`no qdisc statistics on ${this.hosts[i]} eth0`);
    return Number(m[1]);
  }

  /** tc's statistics of the switch's port to host i (bytes sent, drops, overlimits). */
  async qdiscStats(i: number): Promise<string> {
    const { stdout } = await run(this.tc, [
      '-s',
      '-n',
      this.switchNs,
      'qdisc',
      'show',
      'dev',
      `h${i}`,
    ]);
    return stdout.trim();
  }

  /**
   * Counters of the switch's port to host i, read at once: bytes sent so far (what host i
   * received), and packets over the bucket's rate (`overlimits`: the limit was the bottleneck).
   */
  async portCounters(i: number): Promise<{ sentBytes: number; overlimits: number }> {
    const stats = await this.qdiscStats(i);
    const sent = /Sent (\d+) bytes/.exec(stats);
    const over = /overlimits (\d+)/.exec(stats);
    if (sent === null || over === null) throw new Error(`no qdisc statistics on h${i}: ${stats}`);
    return { sentBytes: Number(sent[1]), overlimits: Number(over[1]) };
  }

  /** Removes every namespace and interface made (processes inside must be stopped first). */
  async destroy(): Promise<void> {
    this.#unwatch();
    this.#destroySync();
  }

  #unwatch(): void {
    process.removeListener('exit', this.#onExit);
    for (const s of SIGNALS) process.removeListener(s, this.#onSignal);
  }

  #destroySync(): void {
    const quiet = (args: string[]) => {
      try {
        execFileSync(this.ip, args, { stdio: 'pipe' });
      } catch {
        // already gone
      }
    };
    // Deleting a veth end deletes its peer: the caller's port and every host's eth0 go with these.
    if (this.testerPort) quiet(['link', 'del', this.hostIf]);
    for (const ns of this.#made.splice(0).reverse()) quiet(['netns', 'del', ns]);
  }

  /** Namespaces and interfaces of this lab still present (for a check that cleanup worked). */
  leftovers(): string[] {
    const netns = execFileSync(this.ip, ['netns', 'list'], { encoding: 'utf8' });
    const links = execFileSync(this.ip, ['-o', 'link', 'show'], { encoding: 'utf8' });
    return [
      ...netns.split('\n').filter((l) => l.includes(`sp2p-${this.tag}`)),
      ...links.split('\n').filter((l) => l.includes(this.hostIf)),
    ];
  }
}
