/**
 * What the `registry` commands do (registry.ts declares them): loaded only when one runs, so that
 * other commands start without the registry's modules.
 * @module
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { IdentityError, RegistryEditError } from '../errors.ts';
import { parseNodeId } from '../identity/index.ts';
import {
  addNode,
  initRegistry,
  loadOperatorPrivateKey,
  loadOperatorPublicKey,
  membersOf,
  nodeIdOfCertificate,
  operatorKeyFingerprint,
  parseRegistry,
  parseRegistryDocument,
  type Registry,
  type RegistryDocument,
  readRegistryFile,
  readRegistryText,
  removeNode,
  signRegistry,
  writeRegistryFile,
} from '../registry/index.ts';
import type { CliIo } from './io.ts';

/** Where an edit reads, where it writes, and how it signs. */
export interface EditOptions {
  /** The registry file read (and written, without `out`). */
  file: string;
  /** The operator private key: the new version is signed in the same step. */
  key?: string;
  /** Write the new version here instead of `file` (which is left as it is). */
  out?: string;
}

/** Whether `path` holds a signed registry document (false if missing or not a registry). */
async function holdsSignedRegistry(path: string): Promise<boolean> {
  try {
    return (await readRegistryFile(path)).signature !== undefined;
  } catch {
    return false;
  }
}

/**
 * Reads `options.file`, applies `change`, signs the result with `options.key` if given, and
 * writes it atomically (temporary file in the same folder, fsync, rename, fsync of the folder)
 * to `options.out` or back to `options.file`: a node following the file reads the old version
 * or the new one, never part of one. An unsigned result never replaces a signed registry: that
 * is refused (RegistryEditError), naming `--key` and `--out`.
 */
async function editFile(
  options: EditOptions,
  change: (doc: RegistryDocument) => RegistryDocument,
): Promise<RegistryDocument> {
  // The key first: a wrong path or a bad key changes nothing.
  const key: KeyObject | undefined =
    options.key === undefined ? undefined : await loadOperatorPrivateKey(options.key);
  const current = await readRegistryFile(options.file);
  const target = options.out ?? options.file;
  let next = change(current);
  if (key !== undefined) {
    next = signRegistry(next, key);
  } else {
    const inPlace = resolve(target) === resolve(options.file);
    if (inPlace ? current.signature !== undefined : await holdsSignedRegistry(target)) {
      throw new RegistryEditError(
        `${target} holds a signed registry: an unsigned version in its place would be refused by every node that checks the operator's signature. Sign the new version in the same step with --key <operator.key>, or write it unsigned to another file with --out <file>`,
      );
    }
  }
  await writeRegistryFile(target, next);
  return next;
}

async function readCertificate(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new IdentityError(`cannot read certificate ${path} (${code})`, { cause });
  }
}

/** What `registry show` reports. */
interface RegistrySummary {
  file: string;
  version: number;
  signed: boolean;
  /** Fingerprint of the signing key and what the signature was checked against, if signed. */
  signature: { key: string; checkedAgainst: 'operator-key' | 'embedded-key' } | null;
  subnets: Record<string, { nodeId: string; address: string }[]>;
}

function summarize(
  file: string,
  doc: RegistryDocument,
  registry: Registry,
  withOperatorKey: boolean,
): RegistrySummary {
  const subnets: RegistrySummary['subnets'] = {};
  for (const subnet of registry.subnets.keys()) {
    subnets[subnet] = membersOf(registry, subnet).map((n) => ({
      nodeId: n.nodeId,
      address: n.address,
    }));
  }
  const signature =
    doc.signature === undefined || !registry.signed
      ? null
      : {
          key: operatorKeyFingerprint(
            createPublicKey({
              key: Buffer.from(doc.signature.publicKey, 'base64'),
              format: 'der',
              type: 'spki',
            }),
          ),
          checkedAgainst: withOperatorKey ? ('operator-key' as const) : ('embedded-key' as const),
        };
  return { file, version: registry.version, signed: registry.signed, signature, subnets };
}

function formatSummary(summary: RegistrySummary): string {
  const lines = [`registry:  ${summary.file}`, `version:   ${summary.version}`];
  if (summary.signature === null) {
    lines.push('signature: none (unsigned)');
  } else if (summary.signature.checkedAgainst === 'operator-key') {
    lines.push(`signature: valid, by the operator key ${summary.signature.key}`);
  } else {
    lines.push(
      `signature: valid, by key ${summary.signature.key} ` +
        '(pass --public-key to check that it is the operator key)',
    );
  }
  const names = Object.keys(summary.subnets);
  if (names.length === 0) lines.push('no subnets');
  for (const name of names) {
    const nodes = summary.subnets[name]!;
    lines.push(`subnet ${name}: ${nodes.length} node${nodes.length === 1 ? '' : 's'}`);
    for (const node of nodes) lines.push(`  ${node.nodeId}  ${node.address}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `registry init`. */
export async function init(options: { file: string }): Promise<void> {
  await writeRegistryFile(options.file, initRegistry(), { exclusive: true });
}

/** `registry add-node`: prints the NodeId. */
export async function addNodeCommand(
  options: EditOptions & { subnet: string; address: string; cert: string },
  io: CliIo,
): Promise<void> {
  const certificatePem = await readCertificate(options.cert);
  const nodeId = nodeIdOfCertificate(certificatePem);
  await editFile(options, (doc) =>
    addNode(doc, { subnet: options.subnet, address: options.address, certificatePem }),
  );
  io.stdout(`${nodeId}\n`);
}

/** `registry remove-node`. */
export async function removeNodeCommand(options: EditOptions & { node: string }): Promise<void> {
  const nodeId = parseNodeId(options.node);
  await editFile(options, (doc) => removeNode(doc, nodeId));
}

/** `registry sign`. */
export async function sign(options: { file: string; key: string }): Promise<void> {
  await editFile(options, (doc) => doc);
}

/** `registry show`. */
export async function show(
  options: { file: string; publicKey?: string; json?: boolean },
  io: CliIo,
): Promise<void> {
  const operatorPublicKey =
    options.publicKey === undefined ? undefined : await loadOperatorPublicKey(options.publicKey);
  const text = await readRegistryText(options.file);
  const registryValue = parseRegistry(text, { operatorPublicKey });
  const doc = parseRegistryDocument(text);
  const summary = summarize(options.file, doc, registryValue, operatorPublicKey !== undefined);
  io.stdout(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
}
