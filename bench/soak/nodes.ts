/**
 * The soak benchmark's nodes: daemon processes set up with the CLI and a signed registry (as in
 * test/daemon), the first PROXIED of them behind a fault proxy; starting one, whether it is
 * alive, and asking it for (or deleting) an artifact.
 */
import {
  apiFetch,
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  freePort,
  signedSubnet,
  writeConfig,
} from '../../test/daemon/helpers.ts';
import { FaultProxy } from '../../test/helpers/fault-proxy.ts';
import { NODES, PROXIED, SUBNET } from './config.ts';

export interface Node {
  i: number;
  nodeId: string;
  config: string;
  daemon: DaemonProcess | undefined;
  api: string;
  streams: EventStreamClient[];
  proxy: FaultProxy | undefined;
  kills: number;
}

export const nodes: Node[] = [];

export async function startNode(n: Node): Promise<void> {
  n.daemon = new DaemonProcess(n.config);
  n.api = await n.daemon.ready;
  n.streams = await Promise.all([
    EventStreamClient.open(n.api, 'consensus'),
    EventStreamClient.open(n.api, 'ingress'),
  ]);
}

export function alive(n: Node): boolean {
  return (
    n.daemon !== undefined &&
    n.daemon.child.exitCode === null &&
    n.daemon.child.signalCode === null &&
    n.api !== ''
  );
}

/** Starts the NODES nodes in `dir` and waits until each is linked to all the others. */
export async function setup(dir: string): Promise<void> {
  const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
  // The first PROXIED nodes are listed at a fault proxy in front of them.
  const proxies = await Promise.all(
    ports.map((port, i) => (i < PROXIED ? FaultProxy.start(`127.0.0.1:${port}`) : undefined)),
  );
  const { ids } = await signedSubnet(
    dir,
    SUBNET,
    ports.map((port, i) => proxies[i]?.address ?? `127.0.0.1:${port}`),
  );
  for (let i = 0; i < NODES; i++) {
    const config = await writeConfig(dir, `node${i}`, {
      identityDir: `node${i}`,
      registryFile: 'registry.json',
      registryPublicKey: 'operator/operator.pub',
      subnet: SUBNET,
      listen: `127.0.0.1:${ports[i]}`,
      api: '127.0.0.1:0',
      logLevel: 'info',
    });
    nodes.push({
      i,
      nodeId: ids[i]!,
      config,
      daemon: undefined,
      api: '',
      streams: [],
      proxy: proxies[i],
      kills: 0,
    });
  }
  await Promise.all(nodes.map(startNode));
  for (const n of nodes) {
    await connectedTo(
      n.api,
      nodes.filter((x) => x !== n).map((x) => x.nodeId),
      60_000,
    );
  }
}

export async function holds(n: Node, channel: string, id: string): Promise<boolean> {
  try {
    const res = await apiFetch(`${n.api}/v1/channels/${channel}/artifacts/${id}`);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function del(n: Node, channel: string, id: string): Promise<void> {
  try {
    const res = await apiFetch(`${n.api}/v1/channels/${channel}/artifacts/${id}`, {
      method: 'DELETE',
    });
    await res.arrayBuffer();
  } catch {
    // the node died meanwhile: it lost everything anyway
  }
}
