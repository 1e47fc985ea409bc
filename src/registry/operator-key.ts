/**
 * The operator's Ed25519 key pair, which signs registry documents. The private key is a
 * PKCS#8 PEM file (`operator.key`, mode 0600), the public key an SPKI PEM file (`operator.pub`).
 * @module
 */

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IdentityError, KeyExistsError } from '../errors.ts';
import { errnoCode, writeFileExclusive } from './files.ts';

/** File name of the operator's private key in the directory `keygen --operator` writes. */
export const OPERATOR_KEY_FILE = 'operator.key';
/** File name of the operator's public key in the directory `keygen --operator` writes. */
export const OPERATOR_PUB_FILE = 'operator.pub';

/** An operator key pair, PEM. */
export interface OperatorKeyPair {
  /** PKCS#8 PEM of the Ed25519 private key. */
  readonly privateKeyPem: string;
  /** SPKI PEM of the Ed25519 public key. */
  readonly publicKeyPem: string;
}

/** Where {@link writeOperatorKeyPair} put the keys. */
export interface OperatorKeyPaths {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

/** Generates a fresh operator key pair. */
export function generateOperatorKeyPair(): OperatorKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/**
 * Writes `operator.key` (mode 0600) and `operator.pub` into `dir` (created if missing).
 * Throws {@link KeyExistsError} if either file exists; then neither is written.
 */
export async function writeOperatorKeyPair(
  dir: string,
  pair: OperatorKeyPair,
): Promise<OperatorKeyPaths> {
  await mkdir(dir, { recursive: true });
  const privateKeyPath = join(dir, OPERATOR_KEY_FILE);
  const publicKeyPath = join(dir, OPERATOR_PUB_FILE);
  for (const path of [privateKeyPath, publicKeyPath]) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new KeyExistsError(path);
  }
  await writeExclusiveKey(privateKeyPath, pair.privateKeyPem, 0o600);
  await writeExclusiveKey(publicKeyPath, pair.publicKeyPem, 0o644);
  return { privateKeyPath, publicKeyPath };
}

async function writeExclusiveKey(path: string, data: string, mode: number): Promise<void> {
  try {
    await writeFileExclusive(path, data, mode);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw new KeyExistsError(path);
    throw err;
  }
}

function requireEd25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError(`${what} is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
  }
  return key;
}

/**
 * The operator public key from a KeyObject (public, or private to derive it from) or an SPKI
 * PEM text. Throws {@link IdentityError} if it is not an Ed25519 public key (a private key PEM
 * is refused: nodes should never hold it).
 */
export function toOperatorPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') {
    return requireEd25519(key.type === 'public' ? key : createPublicKey(key), 'operator key');
  }
  if (key.includes('PRIVATE KEY')) {
    throw new IdentityError('operator public key: got a private key PEM, expected the public key');
  }
  try {
    return requireEd25519(createPublicKey(key), 'operator public key');
  } catch (cause) {
    if (cause instanceof IdentityError) throw cause;
    throw new IdentityError('operator public key is not an SPKI PEM public key', { cause });
  }
}

/** The operator private key from a KeyObject or a PKCS#8 PEM text; must be Ed25519. */
export function toOperatorPrivateKey(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw new IdentityError('operator key is not a private key');
    return requireEd25519(key, 'operator private key');
  }
  try {
    return requireEd25519(createPrivateKey(key), 'operator private key');
  } catch (cause) {
    if (cause instanceof IdentityError) throw cause;
    throw new IdentityError('operator private key is not a PKCS#8 PEM private key', { cause });
  }
}

async function readPem(pathOrPem: string, what: string): Promise<string> {
  if (pathOrPem.includes('-----BEGIN')) return pathOrPem;
  try {
    return await readFile(pathOrPem, 'utf8');
  } catch (cause) {
    throw new IdentityError(`cannot read ${what} ${pathOrPem} (${errnoCode(cause) ?? cause})`, {
      cause,
    });
  }
}

/**
 * Loads the operator public key from a file path or a PEM text. Throws {@link IdentityError}
 * if the file cannot be read or does not hold an Ed25519 SPKI public key.
 */
export async function loadOperatorPublicKey(pathOrPem: string): Promise<KeyObject> {
  const pem = await readPem(pathOrPem, 'operator public key');
  try {
    return toOperatorPublicKey(pem);
  } catch (err) {
    if (err instanceof IdentityError && pem !== pathOrPem) {
      throw new IdentityError(`${pathOrPem}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Loads the operator private key from a file path or a PEM text. Throws {@link IdentityError}
 * if the file cannot be read or does not hold an Ed25519 PKCS#8 private key.
 */
export async function loadOperatorPrivateKey(pathOrPem: string): Promise<KeyObject> {
  const pem = await readPem(pathOrPem, 'operator private key');
  try {
    return toOperatorPrivateKey(pem);
  } catch (err) {
    if (err instanceof IdentityError && pem !== pathOrPem) {
      throw new IdentityError(`${pathOrPem}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The DER SubjectPublicKeyInfo of a public key. */
export function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

/** A short, stable name for an operator public key: `sha256:` and 16 hex digits of its SPKI. */
export function operatorKeyFingerprint(publicKey: KeyObject): string {
  return `sha256:${createHash('sha256').update(spkiDer(publicKey)).digest('hex').slice(0, 16)}`;
}
