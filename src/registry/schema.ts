/**
 * Validation of registry documents with zod. Any failure becomes a {@link RegistryFormatError}
 * whose `field` is the JSON path of the offending field, e.g.
 * `subnets.subnet-a.nodes.<nodeId>.address`.
 * @module
 */
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { RegistryFormatError } from '../errors.ts';
import { parseNodeCertificate, parseNodeId } from '../identity/index.ts';
import { addressProblem } from './address.ts';
import { REGISTRY_FORMAT, type RegistryDocument, SUBNET_NAME_PATTERN } from './document.ts';

/** The `field` reported when the document as a whole is at fault (not JSON, not an object). */
export const ROOT_FIELD = '(document)';

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ED25519_SIGNATURE_BYTES = 64;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const nodeIdKey = z.string().superRefine((text, ctx) => {
  try {
    parseNodeId(text);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: messageOf(err) });
  }
});

const subnetName = z.string().regex(SUBNET_NAME_PATTERN, {
  message:
    'a subnet name is 1 to 63 lower-case letters, digits or dashes, not starting with a dash',
});

const address = z.string().superRefine((text, ctx) => {
  const problem = addressProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const certificate = z.string().superRefine((text, ctx) => {
  try {
    parseNodeCertificate(text);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: messageOf(err) });
  }
});

const nodeEntry = z.object({ address, certificate }).strict();

/** The nodes of one subnet; each certificate must name the node it is listed under. */
const nodes = z.record(nodeIdKey, nodeEntry).superRefine((entries, ctx) => {
  for (const [nodeId, entry] of Object.entries(entries)) {
    let certNodeId: string;
    try {
      certNodeId = parseNodeCertificate(entry.certificate).nodeId;
    } catch {
      continue; // already reported on the certificate itself
    }
    if (certNodeId !== nodeId) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [nodeId, 'certificate'],
        message: `certificate is node ${certNodeId}, not the node it is listed under`,
      });
    }
  }
});

const subnetEntry = z.object({ nodes }).strict();

/** A node may be listed in one subnet only. */
const subnets = z.record(subnetName, subnetEntry).superRefine((entries, ctx) => {
  const seen = new Map<string, string>();
  for (const [subnet, entry] of Object.entries(entries)) {
    for (const nodeId of Object.keys(entry.nodes)) {
      const first = seen.get(nodeId);
      if (first !== undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [subnet, 'nodes', nodeId],
          message: `node is already listed in subnet '${first}'; a node belongs to one subnet`,
        });
      } else {
        seen.set(nodeId, subnet);
      }
    }
  }
});

const base64 = z.string().regex(BASE64_PATTERN, { message: 'not base64' });

const signature = z
  .object({
    publicKey: base64.superRefine((text, ctx) => {
      try {
        const key = createPublicKey({
          key: Buffer.from(text, 'base64'),
          format: 'der',
          type: 'spki',
        });
        if (key.asymmetricKeyType !== 'ed25519') {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `operator key is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`,
          });
        }
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'not a DER SubjectPublicKeyInfo' });
      }
    }),
    value: base64.refine((text) => Buffer.from(text, 'base64').length === ED25519_SIGNATURE_BYTES, {
      message: `an Ed25519 signature is ${ED25519_SIGNATURE_BYTES} bytes`,
    }),
  })
  .strict();

const documentSchema = z
  .object({
    format: z.literal(REGISTRY_FORMAT, {
      errorMap: () => ({ message: `expected '${REGISTRY_FORMAT}'` }),
    }),
    version: z
      .number()
      .int({ message: 'expected an integer' })
      .min(0, { message: 'must not be negative' })
      .max(Number.MAX_SAFE_INTEGER, { message: 'must be a safe integer (at most 2^53 - 1)' }),
    subnets,
    signature: signature.optional(),
  })
  .strict();

function toFormatError(issue: z.ZodIssue): RegistryFormatError {
  const path = issue.path.map(String);
  let message = issue.message;
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    path.push(issue.keys[0] ?? '');
    message = 'unknown field';
  } else if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
    message = 'missing';
  } else if (issue.code === z.ZodIssueCode.invalid_type) {
    message = `expected ${issue.expected}, got ${issue.received}`;
  }
  return new RegistryFormatError(path.length === 0 ? ROOT_FIELD : path.join('.'), message);
}

/**
 * Validates a parsed JSON value as a registry document (structure, names, NodeIds, addresses,
 * certificates and the node each names, one subnet per node, the shape of the signature; not
 * whether the signature verifies). Throws {@link RegistryFormatError} for the first problem.
 */
export function validateRegistryDocument(value: unknown): RegistryDocument {
  const result = documentSchema.safeParse(value);
  if (result.success) return result.data as RegistryDocument;
  const first = result.error.issues[0];
  if (first === undefined) throw new RegistryFormatError(ROOT_FIELD, 'invalid document');
  throw toFormatError(first);
}

/** Parses JSON text and validates it; see {@link validateRegistryDocument}. */
export function parseRegistryDocument(text: string): RegistryDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new RegistryFormatError(ROOT_FIELD, `not JSON (${messageOf(cause)})`, { cause });
  }
  return validateRegistryDocument(value);
}
