import type { DownloadLimits } from './types.ts';

/**
 * The deadline of one fetch attempt of `bytes` bytes (a whole artifact or one chunk), ms: the
 * base `downloadTimeoutMs`, plus the time the bytes take at the slowest acceptable throughput
 * `minThroughputBytesPerSec`, rounded up. The one place this rule lives: whole-artifact
 * downloads (core/downloads.ts) and chunk fetches (core/chunk-fetches.ts) both call it. Pure.
 */
export function fetchDeadlineMs(
  bytes: number,
  limits: Pick<DownloadLimits, 'downloadTimeoutMs' | 'minThroughputBytesPerSec'>,
): number {
  return Math.ceil(limits.downloadTimeoutMs + (bytes / limits.minThroughputBytesPerSec) * 1000);
}
