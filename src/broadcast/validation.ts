/**
 * Runs a channel's validation hook on an artifact and turns what it gives (a verdict, a
 * promise of one, something else, a throw) into the verdict the core is fed.
 * @module
 */
import type { Logger } from '../log.ts';
import type { DriverEnvironment } from './environment.ts';
import type { ChannelConfig, DeliveredArtifact, Validation } from './types.ts';

/**
 * Calls `hook` (none: accept) on `artifact` and passes its verdict to `verdict`: at once for a
 * synchronous hook, when its promise settles (through the environment) for an asynchronous
 * one. A hook that throws, rejects or gives no verdict means `ignore` (logged).
 */
export function runValidation(
  hook: ChannelConfig['validate'],
  artifact: DeliveredArtifact,
  env: DriverEnvironment,
  log: Logger,
  verdict: (v: Validation) => void,
): void {
  const checked = (v: unknown) => {
    if (v === 'accept' || v === 'reject' || v === 'ignore') {
      verdict(v);
      return;
    }
    log.warn(
      { channel: artifact.channel, verdict: String(v) },
      'validation hook returned no verdict; ignoring the artifact',
    );
    verdict('ignore');
  };
  const failed = (err: unknown) => {
    log.warn(
      { err, channel: artifact.channel, id: artifact.id },
      'validation hook threw; ignoring the artifact',
    );
    verdict('ignore');
  };
  if (!hook) {
    verdict('accept');
    return;
  }
  let result: Validation | Promise<Validation>;
  try {
    result = hook(artifact);
  } catch (err) {
    failed(err);
    return;
  }
  if (typeof result === 'string') checked(result);
  else env.settle(Promise.resolve(result), checked, failed);
}
