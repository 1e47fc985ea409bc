/**
 * Reading and writing registry files. Writes are atomic (temporary file in the same directory,
 * then rename), so a node watching the file never reads half of it.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, RegistryEditError } from '../errors.ts';
import type { RegistryDocument } from './document.ts';
import { errnoCode, writeFileAtomic } from './files.ts';
import { parseRegistryDocument } from './schema.ts';

/** The `field` of the {@link ConfigError} thrown when the registry file cannot be read. */
export const REGISTRY_PATH_FIELD = 'registry.path';

/** The error for a registry file that cannot be read (missing, no permission...). */
export function unreadableRegistryError(path: string, cause: unknown): ConfigError {
  const reason = errnoCode(cause) ?? (cause instanceof Error ? cause.message : String(cause));
  return new ConfigError(REGISTRY_PATH_FIELD, `cannot read registry file ${path} (${reason})`, {
    cause,
  });
}

/**
 * The file form of a document: indented JSON, fields in the order format, version, subnets,
 * signature, and a final newline. (Only the signature's canonical form is normative.)
 */
export function formatRegistryDocument(doc: RegistryDocument): string {
  const ordered: RegistryDocument = {
    format: doc.format,
    version: doc.version,
    subnets: doc.subnets,
    ...(doc.signature === undefined ? {} : { signature: doc.signature }),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Reads the text of a registry file; throws a {@link ConfigError} if it cannot be read. */
export async function readRegistryText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw unreadableRegistryError(path, cause);
  }
}

/**
 * Reads and validates a registry file (the signature is not checked; see `parseRegistry`).
 * Throws a {@link ConfigError} if unreadable, a `RegistryFormatError` if malformed.
 */
export async function readRegistryFile(path: string): Promise<RegistryDocument> {
  return parseRegistryDocument(await readRegistryText(path));
}

/**
 * Writes a document to `path` atomically. With `exclusive`, refuses (with
 * {@link RegistryEditError}) to replace an existing file.
 */
export async function writeRegistryFile(
  path: string,
  doc: RegistryDocument,
  options: { exclusive?: boolean } = {},
): Promise<void> {
  try {
    await writeFileAtomic(path, formatRegistryDocument(doc), options);
  } catch (err) {
    if (options.exclusive && errnoCode(err) === 'EEXIST') {
      throw new RegistryEditError(`refusing to overwrite existing registry file ${path}`);
    }
    throw err;
  }
}
