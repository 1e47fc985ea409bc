/**
 * What the `registry` commands do (registry.ts declares them): loaded only when one runs, so that
 * other commands start without the registry's modules.
 * @module
 */
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { IdentityError } from '../errors.ts';
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

async function editFile(
  file: string,
  change: (doc: RegistryDocument) => RegistryDocument,
): Promise<RegistryDocument> {
  const next = change(await readRegistryFile(file));
  await writeRegistryFile(file, next);
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
  options: { file: string; subnet: string; address: string; cert: string },
  io: CliIo,
): Promise<void> {
  const certificatePem = await readCertificate(options.cert);
  const nodeId = nodeIdOfCertificate(certificatePem);
  await editFile(options.file, (doc) =>
    addNode(doc, { subnet: options.subnet, address: options.address, certificatePem }),
  );
  io.stdout(`${nodeId}\n`);
}

/** `registry remove-node`. */
export async function removeNodeCommand(options: { file: string; node: string }): Promise<void> {
  const nodeId = parseNodeId(options.node);
  await editFile(options.file, (doc) => removeNode(doc, nodeId));
}

/** `registry sign`. */
export async function sign(options: { file: string; key: string }): Promise<void> {
  const key = await loadOperatorPrivateKey(options.key);
  await editFile(options.file, (doc) => signRegistry(doc, key));
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
