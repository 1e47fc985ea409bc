import { ConfigError } from '../errors.ts';

/** A TCP endpoint. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port` (IPv6 in brackets: `[::1]:4100`). Port 0 is allowed only with
 * `allowZero` (listen on a port the OS picks). Throws {@link ConfigError} naming `field`.
 */
export function parseHostPort(text: string, field = 'address', allowZero = false): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new ConfigError(field, `'${text}' is not host:port (IPv6 as [addr]:port)`);
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new ConfigError(field, `port ${port} out of range`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** Formats a host and port as `host:port`, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
