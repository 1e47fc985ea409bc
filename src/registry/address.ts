/**
 * Node addresses in the registry: `host:port`, the port 1..65535, an IPv6 host in brackets
 * (`[::1]:4100`), otherwise an IPv4 address or a DNS name.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { RegistryFormatError } from '../errors.ts';

const ADDRESS_PATTERN = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]+)$/;
const PORT_PATTERN = /^[1-9][0-9]{0,4}$/;
const HOSTNAME_PATTERN =
  /^(?=.{1,253}\.?$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/** A dialable address, split. `host` is without brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Says what is wrong with `address`, or returns undefined if it is a valid `host:port`.
 * Used by validation, which reports the problem under the field's JSON path.
 */
export function addressProblem(address: string): string | undefined {
  const match = ADDRESS_PATTERN.exec(address);
  if (match === null) {
    return `'${address.slice(0, 100)}' is not host:port (IPv6 hosts go in brackets: [::1]:4100)`;
  }
  const [, v6, name, port] = match;
  if (!PORT_PATTERN.test(port!) || Number(port) > 65535) {
    return `port '${port}' is not an integer in 1..65535`;
  }
  if (v6 !== undefined) {
    return isIPv6(v6) ? undefined : `'${v6}' in brackets is not an IPv6 address`;
  }
  const host = name!;
  if (isIPv4(host)) return undefined;
  if (/^[0-9.]+$/.test(host) || !HOSTNAME_PATTERN.test(host)) {
    return `host '${host.slice(0, 100)}' is neither an IPv4 address nor a DNS name`;
  }
  return undefined;
}

/**
 * Splits a registry address into host and port. Throws {@link RegistryFormatError}
 * (field `address`) if it is not valid; addresses of a validated registry always are.
 */
export function parseAddress(address: string): HostPort {
  const problem = addressProblem(address);
  if (problem !== undefined) throw new RegistryFormatError('address', problem);
  const match = ADDRESS_PATTERN.exec(address)!;
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}
