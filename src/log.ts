import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * The root logger used when the caller injects none. Level from `SUBNET_P2P_LOG_LEVEL`
 * (default `warn`, so a library stays quiet unless asked).
 */
export function defaultLogger(): Logger {
  return pino({ level: process.env.SUBNET_P2P_LOG_LEVEL ?? 'warn' });
}

/** A logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
