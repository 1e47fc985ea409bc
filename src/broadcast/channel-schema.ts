/**
 * The rules of a channel's settings, stated once as zod schemas: the library's `resolveChannel`
 * (config.ts) validates a merged {@link ChannelConfig} with {@link channelConfigSchema}, and the
 * daemon's config file (daemon/config.ts) validates a channel's JSON block with
 * {@link channelFileSchema}, built from the same field rules, before handing it to
 * `resolveChannel`. Each issue's path names the field (`maxBytes`, `chunking.chunkBytes`).
 * @module
 */
import { z } from 'zod';
import { Lane } from '../transport/lanes.ts';
import { chunkCount, manifestBytes } from './chunks/manifest.ts';
import type { ChannelConfig, ChunkingConfig } from './types.ts';

/** Channel names: 1-63 of [a-z0-9_-], starting alphanumeric. */
export const CHANNEL_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The rule of {@link CHANNEL_NAME_PATTERN}, as a config error states it. */
export const CHANNEL_NAME_RULE = 'channel names are 1-63 of [a-z0-9_-], starting alphanumeric';

/** The smallest manifest: its header and one chunk hash, bytes. */
const MIN_MANIFEST_BYTES = 49;

const positiveInteger = z.custom<number>(
  (v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0,
  (v) => ({ message: `must be a positive integer, got ${String(v)}` }),
);

/** The rule of each JSON-able channel setting (what a config file may give). */
export const channelFieldRules = {
  pushThresholdBytes: z.custom<number>(
    (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
    (v) => ({ message: `must be an integer >= 0, got ${String(v)}` }),
  ),
  maxArtifactBytes: positiveInteger,
  maxSlots: positiveInteger.refine((v) => v <= 2 ** 32, 'must fit in 32 bits'),
  peerShare: z.custom<number>(
    (v) => typeof v === 'number' && v > 0 && v <= 1,
    (v) => ({ message: `must be a fraction in (0, 1], got ${String(v)}` }),
  ),
  maxBytes: positiveInteger,
  maxAgeMs: positiveInteger,
  relay: z.custom<ChannelConfig['relay']>(
    (v) => v === 'relay' || v === 'origin-only',
    (v) => ({ message: `must be 'relay' or 'origin-only', got ${String(v)}` }),
  ),
};

/** The rule of each chunking setting. */
export const chunkingFieldRules = {
  thresholdBytes: positiveInteger,
  chunkBytes: positiveInteger,
  maxChunkBytes: positiveInteger,
  maxManifestBytes: positiveInteger,
} satisfies Record<keyof ChunkingConfig, z.ZodTypeAny>;

const fn = z.custom<(...args: never[]) => unknown>(
  (v) => typeof v === 'function',
  'must be a function',
);

/** A whole chunking config (merged over the defaults); other keys must be positive too. */
const chunkingSchema = z.object(chunkingFieldRules).catchall(positiveInteger);

/**
 * A channel's settings merged over the defaults (with `maxBytes` given its default), as
 * `resolveChannel` checks them: every field, then the rules between fields. Fields it does not
 * know (hooks such as `validate`) pass through unchecked.
 */
export const channelConfigSchema = z
  .object({
    lane: z.custom<Lane>(
      (v) => v === Lane.high || v === Lane.bulk,
      'must be the high or the bulk lane',
    ),
    ...channelFieldRules,
    numericAttribute: fn,
    priority: fn,
    chunking: z
      .custom<object | undefined>(
        (v) => v === undefined || (typeof v === 'object' && v !== null),
        'must be an object, or undefined (null) for none',
      )
      .pipe(chunkingSchema.optional()),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    // One peer's largest artifact must fit in its share, or it could never be admitted.
    if (Math.floor(c.maxBytes * c.peerShare) < c.maxArtifactBytes) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['maxBytes'],
        message: `${c.maxBytes} x peerShare ${c.peerShare} must hold one artifact of maxArtifactBytes ${c.maxArtifactBytes}`,
      });
      return;
    }
    const k = c.chunking;
    if (k === undefined) return;
    if (k.chunkBytes > k.maxChunkBytes) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['chunking', 'chunkBytes'],
        message: 'must not exceed maxChunkBytes',
      });
      return;
    }
    if (k.maxManifestBytes < MIN_MANIFEST_BYTES) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['chunking', 'maxManifestBytes'],
        message: 'must hold at least one chunk hash',
      });
      return;
    }
    // The largest artifact's manifest must fit: a node could not broadcast it otherwise.
    const manifest = manifestBytes(chunkCount(c.maxArtifactBytes, k.chunkBytes));
    if (c.maxArtifactBytes > k.thresholdBytes && manifest > k.maxManifestBytes) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['maxArtifactBytes'],
        message: `${c.maxArtifactBytes} needs a manifest of ${manifest} bytes, over chunking.maxManifestBytes ${k.maxManifestBytes}`,
      });
    }
  });

/**
 * One channel as a config file gives it (JSON): any of the settings of
 * {@link channelFieldRules}, the lane by name, and `chunking` as some of its fields or `null`
 * (off). Unknown keys are refused. The rules between fields are `resolveChannel`'s.
 */
export const channelFileSchema = z
  .object({
    lane: z.enum(['high', 'bulk']).optional(),
    pushThresholdBytes: channelFieldRules.pushThresholdBytes.optional(),
    maxArtifactBytes: channelFieldRules.maxArtifactBytes.optional(),
    maxSlots: channelFieldRules.maxSlots.optional(),
    relay: channelFieldRules.relay.optional(),
    maxAgeMs: channelFieldRules.maxAgeMs.optional(),
    maxBytes: channelFieldRules.maxBytes.optional(),
    peerShare: channelFieldRules.peerShare.optional(),
    chunking: z
      .object({
        thresholdBytes: chunkingFieldRules.thresholdBytes.optional(),
        chunkBytes: chunkingFieldRules.chunkBytes.optional(),
        maxChunkBytes: chunkingFieldRules.maxChunkBytes.optional(),
        maxManifestBytes: chunkingFieldRules.maxManifestBytes.optional(),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

/** A channel block of a config file, as {@link channelFileSchema} accepts it. */
export type ChannelFileSettings = z.infer<typeof channelFileSchema>;
