/**
 * `subnet-p2p registry <init|add-node|remove-node|sign|show>`: the operator's tools for the
 * registry file. Every change bumps the version by one and drops the signature; `sign` signs
 * without changing the version. Files are replaced atomically.
 * @module
 */
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
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

/** Registers `registry` and its subcommands on `program`. */
export function registerRegistryCommands(program: Command, io: CliIo): void {
  const registry = program
    .command('registry')
    .description('create, edit, sign and inspect a registry file');

  registry
    .command('init')
    .description('create an empty registry file (version 0); refuses to overwrite one')
    .requiredOption('--file <path>', 'registry file to create')
    .action(async (options: { file: string }) => {
      await writeRegistryFile(options.file, initRegistry(), { exclusive: true });
    });

  registry
    .command('add-node')
    .description('add a node (its NodeId comes from its certificate) and print its NodeId')
    .requiredOption('--file <path>', 'registry file')
    .requiredOption('--subnet <name>', 'subnet to add the node to (created if new)')
    .requiredOption('--address <host:port>', 'where peers dial the node ([::1]:4100 for IPv6)')
    .requiredOption('--cert <path>', "the node's certificate (node.crt), PEM")
    .action(async (options: { file: string; subnet: string; address: string; cert: string }) => {
      const certificatePem = await readCertificate(options.cert);
      const nodeId = nodeIdOfCertificate(certificatePem);
      await editFile(options.file, (doc) =>
        addNode(doc, { subnet: options.subnet, address: options.address, certificatePem }),
      );
      io.stdout(`${nodeId}\n`);
    });

  registry
    .command('remove-node')
    .description('remove a node')
    .requiredOption('--file <path>', 'registry file')
    .requiredOption('--node <nodeId>', 'NodeId of the node to remove')
    .action(async (options: { file: string; node: string }) => {
      const nodeId = parseNodeId(options.node);
      await editFile(options.file, (doc) => removeNode(doc, nodeId));
    });

  registry
    .command('sign')
    .description('sign the registry with the operator key (the version does not change)')
    .requiredOption('--file <path>', 'registry file')
    .requiredOption('--key <path>', 'operator private key (operator.key)')
    .action(async (options: { file: string; key: string }) => {
      const key = await loadOperatorPrivateKey(options.key);
      await editFile(options.file, (doc) => signRegistry(doc, key));
    });

  registry
    .command('show')
    .description('validate the registry and print its version, signature and nodes')
    .requiredOption('--file <path>', 'registry file')
    .option('--public-key <path>', 'operator public key (operator.pub): require its signature')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { file: string; publicKey?: string; json?: boolean }) => {
      const operatorPublicKey =
        options.publicKey === undefined
          ? undefined
          : await loadOperatorPublicKey(options.publicKey);
      const text = await readRegistryText(options.file);
      const registryValue = parseRegistry(text, { operatorPublicKey });
      const doc = parseRegistryDocument(text);
      const summary = summarize(options.file, doc, registryValue, operatorPublicKey !== undefined);
      io.stdout(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    });
}
