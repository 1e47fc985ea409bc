import { createPrivateKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IdentityError, KeyExistsError } from '../errors.ts';
import { createSelfSignedCertificate, parseNodeCertificate } from './certificate.ts';
import { CERT_FILE, KEY_FILE } from './files.ts';
import type { NodeId } from './node-id.ts';

const generateEd25519KeyPair = promisify(generateKeyPair);

export { CERT_FILE, KEY_FILE } from './files.ts';

/** Everything a node needs to prove who it is: its key, its certificate, its NodeId. */
export interface NodeIdentity {
  nodeId: NodeId;
  /** PKCS#8 PEM of the Ed25519 private key. */
  privateKeyPem: string;
  /** The self-signed certificate, PEM. */
  certificatePem: string;
  /** The same certificate, DER: what the registry pins and peers compare byte for byte. */
  certificateDer: Buffer;
}

/** Generates a fresh Ed25519 key pair and its self-signed certificate. */
export async function generateIdentity(): Promise<NodeIdentity> {
  const { privateKey } = await generateEd25519KeyPair('ed25519');
  const certificatePem = createSelfSignedCertificate(privateKey);
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const cert = parseNodeCertificate(certificatePem);
  return { nodeId: cert.nodeId, privateKeyPem, certificatePem: cert.pem, certificateDer: cert.der };
}

async function writeExclusive(path: string, data: string, mode: number): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_EXCL: never overwrite, even if the file appears between a check and the write.
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyExistsError(path);
    throw err;
  }
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * Writes an identity into `dir` (created if missing): `node.key` with mode 0600 and
 * `node.crt`. Throws {@link KeyExistsError} if a key is already there.
 */
export async function writeIdentity(dir: string, identity: NodeIdentity): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeExclusive(join(dir, KEY_FILE), identity.privateKeyPem, 0o600);
  await writeExclusive(join(dir, CERT_FILE), identity.certificatePem, 0o644);
}

/**
 * Loads the identity in `dir` and checks that the key and the certificate belong together.
 * Throws {@link IdentityError} naming the file at fault.
 */
export async function loadIdentity(dir: string): Promise<NodeIdentity> {
  const keyPath = join(dir, KEY_FILE);
  const certPath = join(dir, CERT_FILE);
  const [keyPem, certPem] = await Promise.all([
    readFile(keyPath, 'utf8').catch((cause) => {
      throw new IdentityError(`cannot read private key ${keyPath}`, { cause });
    }),
    readFile(certPath, 'utf8').catch((cause) => {
      throw new IdentityError(`cannot read certificate ${certPath}`, { cause });
    }),
  ]);
  return identityFromPem(keyPem, certPem, certPath);
}

/** Builds an identity from PEM texts, checking that the key matches the certificate. */
export function identityFromPem(
  keyPem: string,
  certPem: string,
  where = 'certificate',
): NodeIdentity {
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (cause) {
    throw new IdentityError('private key is not a PEM private key', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError(`private key is ${key.asymmetricKeyType}, expected ed25519`);
  }
  const cert = parseNodeCertificate(certPem);
  if (!new X509Certificate(cert.der).checkPrivateKey(key)) {
    throw new IdentityError(`${where} does not belong to the private key`);
  }
  return {
    nodeId: cert.nodeId,
    privateKeyPem: keyPem,
    certificatePem: cert.pem,
    certificateDer: cert.der,
  };
}
