/**
 * Reading and writing registry files. Writes are atomic (temporary file in the same directory,
 * then rename), so a node watching the file never reads half of it.
 * @module
 */
import { open } from 'node:fs/promises';
import { ConfigError, RegistryEditError, RegistryFormatError } from '../errors.ts';
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

/** Largest registry file read by default (bytes): far above any real subnet's registry. */
export const DEFAULT_MAX_REGISTRY_BYTES = 16 * 1024 * 1024;

/**
 * Reads the text of a registry file of at most `maxBytes`. Throws a {@link ConfigError} if it
 * cannot be read, a {@link RegistryFormatError} (field `(document)`) if it is larger.
 */
export async function readRegistryText(
  path: string,
  maxBytes = DEFAULT_MAX_REGISTRY_BYTES,
): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw unreadableRegistryError(path, cause);
  }
  try {
    const tooLarge = (size: number) =>
      new RegistryFormatError(
        '(document)',
        `registry file ${path} has ${size} bytes, more than the limit of ${maxBytes}`,
      );
    const { size } = await handle.stat();
    if (size > maxBytes) throw tooLarge(size);
    const bytes = await handle.readFile();
    if (bytes.length > maxBytes) throw tooLarge(bytes.length);
    return bytes.toString('utf8');
  } catch (cause) {
    if (cause instanceof RegistryFormatError) throw cause;
    throw unreadableRegistryError(path, cause);
  } finally {
    await handle.close();
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
