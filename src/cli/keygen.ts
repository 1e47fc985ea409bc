/**
 * `subnet-p2p keygen`: a node identity (Ed25519 key and self-signed certificate), or with
 * `--operator` the operator key pair that signs the registry. Never overwrites a key.
 * @module
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { KeyExistsError } from '../errors.ts';
import { CERT_FILE, KEY_FILE } from '../identity/files.ts';
import type { CliIo } from './io.ts';

interface KeygenOptions {
  out: string;
  operator?: boolean;
}

async function refuseExisting(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new KeyExistsError(path);
  }
}

/** Registers `keygen` on `program`. */
export function registerKeygenCommand(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description(
      `generate a node identity (${KEY_FILE}, mode 0600, and ${CERT_FILE}) and print its NodeId; ` +
        'with --operator, the operator key pair (operator.key, operator.pub) and print the ' +
        'public key path',
    )
    .requiredOption('--out <dir>', 'directory to write the keys to (created if missing)')
    .option('--operator', 'generate the operator key pair that signs the registry')
    .action(async (options: KeygenOptions) => {
      // Loaded here, not with the CLI: other commands start without them.
      const [
        { generateIdentity, writeIdentity },
        { generateOperatorKeyPair, writeOperatorKeyPair },
      ] = await Promise.all([
        import('../identity/index.ts'),
        import('../registry/operator-key.ts'),
      ]);
      if (options.operator) {
        const paths = await writeOperatorKeyPair(options.out, generateOperatorKeyPair());
        io.stdout(`${paths.publicKeyPath}\n`);
        return;
      }
      // Check both files first, so that a refusal leaves nothing half-written.
      await refuseExisting([join(options.out, KEY_FILE), join(options.out, CERT_FILE)]);
      const identity = await generateIdentity();
      await writeIdentity(options.out, identity);
      io.stdout(`${identity.nodeId}\n`);
    });
}
