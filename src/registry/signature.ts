/**
 * Signing and verifying registry documents. The signed bytes are the UTF-8 canonical JSON
 * (see `canonical-json.ts`) of the document without its `signature` field; the signature is
 * Ed25519 over those bytes, stored with the signer's public key (base64 DER SPKI).
 * @module
 */
import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { RegistrySignatureError } from '../errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { RegistryDocument } from './document.ts';
import {
  operatorKeyFingerprint,
  spkiDer,
  toOperatorPrivateKey,
  toOperatorPublicKey,
} from './operator-key.ts';

/** The bytes the operator signs: canonical JSON of `doc` without `signature`, UTF-8. */
export function registrySigningBytes(doc: RegistryDocument): Buffer {
  const { signature: _ignored, ...unsigned } = doc;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

/**
 * Returns a copy of `doc` signed with the operator's private key (PKCS#8 PEM or KeyObject),
 * replacing any previous signature. Does not change the version.
 */
export function signRegistry(
  doc: RegistryDocument,
  operatorPrivateKey: KeyObject | string,
): RegistryDocument {
  const privateKey = toOperatorPrivateKey(operatorPrivateKey);
  const { signature: _previous, ...unsigned } = doc;
  const value = sign(null, registrySigningBytes(unsigned), privateKey);
  return {
    ...unsigned,
    signature: {
      publicKey: spkiDer(createPublicKey(privateKey)).toString('base64'),
      value: value.toString('base64'),
    },
  };
}

/** Outcome of checking a document's signature: why it is refused, or whether it is signed. */
export type SignatureCheck =
  | { readonly ok: true; readonly signed: boolean }
  | {
      readonly ok: false;
      readonly reason: 'unsigned' | 'bad_signature';
      readonly error: RegistrySignatureError;
    };

/**
 * Checks the signature of a validated document. With an operator key configured, the document
 * must be signed by exactly that key. Without one, a signature is optional; a present one is
 * checked against the key it carries (integrity only) and must verify.
 */
export function checkRegistrySignature(
  doc: RegistryDocument,
  operatorPublicKey?: KeyObject | string,
): SignatureCheck {
  const configured =
    operatorPublicKey === undefined ? undefined : toOperatorPublicKey(operatorPublicKey);
  const signature = doc.signature;
  if (signature === undefined) {
    if (configured === undefined) return { ok: true, signed: false };
    return refuse(
      'unsigned',
      `registry version ${doc.version} is not signed, but an operator key is configured`,
    );
  }
  const embeddedDer = Buffer.from(signature.publicKey, 'base64');
  const key = configured ?? createPublicKey({ key: embeddedDer, format: 'der', type: 'spki' });
  if (configured !== undefined && !spkiDer(configured).equals(embeddedDer)) {
    const signer = operatorKeyFingerprint(
      createPublicKey({ key: embeddedDer, format: 'der', type: 'spki' }),
    );
    return refuse(
      'bad_signature',
      `registry version ${doc.version} is signed by key ${signer}, not by the configured ` +
        `operator key ${operatorKeyFingerprint(configured)}`,
    );
  }
  const valid = verify(
    null,
    registrySigningBytes(doc),
    key,
    Buffer.from(signature.value, 'base64'),
  );
  if (!valid) {
    return refuse(
      'bad_signature',
      `the signature of registry version ${doc.version} does not verify ` +
        `(key ${operatorKeyFingerprint(key)}); the document was changed after signing`,
    );
  }
  return { ok: true, signed: true };
}

function refuse(reason: 'unsigned' | 'bad_signature', message: string): SignatureCheck {
  return { ok: false, reason, error: new RegistrySignatureError(message) };
}
