/**
 * `subnet-p2p registry <init|add-node|remove-node|sign|show>`: the operator's tools for the
 * registry file. Every change bumps the version by one; `add-node` and `remove-node` sign the
 * new version in the same step with `--key`, and without it never replace a signed registry
 * (they write an unsigned version in place only over an unsigned one, or to `--out`); `sign`
 * signs without changing the version. Files are replaced atomically. What each does is in
 * registry-actions.ts, loaded when one runs.
 * @module
 */
import type { Command } from 'commander';
import type { CliIo } from './io.ts';

const actions = () => import('./registry-actions.ts');

const KEY_HELP = 'operator private key (operator.key): sign the new version in the same step';
const OUT_HELP =
  'write the new version to this file instead (--file is left as it is); without --key, needed to edit a signed registry';

/** Registers `registry` and its subcommands on `program`. */
export function registerRegistryCommands(program: Command, io: CliIo): void {
  const registry = program
    .command('registry')
    .description('create, edit, sign and inspect a registry file');

  registry
    .command('init')
    .description('create an empty registry file (version 0); refuses to overwrite one')
    .requiredOption('--file <path>', 'registry file to create')
    .action(async (options: { file: string }) => (await actions()).init(options));

  registry
    .command('add-node')
    .description('add a node (its NodeId comes from its certificate) and print its NodeId')
    .requiredOption('--file <path>', 'registry file')
    .requiredOption('--subnet <name>', 'subnet to add the node to (created if new)')
    .requiredOption('--address <host:port>', 'where peers dial the node ([::1]:4100 for IPv6)')
    .requiredOption('--cert <path>', "the node's certificate (node.crt), PEM")
    .option('--key <path>', KEY_HELP)
    .option('--out <path>', OUT_HELP)
    .action(
      async (options: {
        file: string;
        subnet: string;
        address: string;
        cert: string;
        key?: string;
        out?: string;
      }) => (await actions()).addNodeCommand(options, io),
    );

  registry
    .command('remove-node')
    .description('remove a node')
    .requiredOption('--file <path>', 'registry file')
    .requiredOption('--node <nodeId>', 'NodeId of the node to remove')
    .option('--key <path>', KEY_HELP)
    .option('--out <path>', OUT_HELP)
    .action(async (options: { file: string; node: string; key?: string; out?: string }) =>
      (await actions()).removeNodeCommand(options),
    );

  registry
    .command('sign')
    .description('sign the registry with the operator key (the version does not change)')
    .requiredOption('--file <path>', 'registry file')
    .requiredOption('--key <path>', 'operator private key (operator.key)')
    .action(async (options: { file: string; key: string }) => (await actions()).sign(options));

  registry
    .command('show')
    .description('validate the registry and print its version, signature and nodes')
    .requiredOption('--file <path>', 'registry file')
    .option('--public-key <path>', 'operator public key (operator.pub): require its signature')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { file: string; publicKey?: string; json?: boolean }) =>
      (await actions()).show(options, io),
    );
}
