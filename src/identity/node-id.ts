import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { IdentityError } from '../errors.ts';

/**
 * A node's identity on the wire and in the registry: the Internet Computer's self-authenticating
 * principal of the node's Ed25519 public key, in its text form.
 *
 * bytes = SHA-224(DER SubjectPublicKeyInfo) || 0x02;
 * text  = lower-case RFC 4648 base32 (no padding) of CRC32(bytes) || bytes, in groups of five
 * characters joined by '-'. Anyone holding the public key can recompute it.
 */
export type NodeId = string & { readonly __brand: 'NodeId' };

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const SELF_AUTHENTICATING_TAG = 0x02;
/** Length of the principal bytes (28-byte SHA-224 + 1 tag byte). */
const PRINCIPAL_BYTES = 29;
const NODE_ID_PATTERN = /^[a-z2-7]{5}(-[a-z2-7]{5}){9}-[a-z2-7]{3}$/;

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) throw new IdentityError(`invalid base32 character '${ch}' in NodeId`);
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function checksummed(principal: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + principal.length);
  new DataView(out.buffer).setUint32(0, crc32(principal) >>> 0);
  out.set(principal, 4);
  return out;
}

function group(text: string): string {
  return text.match(/.{1,5}/g)!.join('-');
}

/** The Internet Computer's text form of any principal's bytes (e.g. `aaaaa-aa` for none). */
export function principalToText(principal: Uint8Array): string {
  return group(base32(checksummed(principal)));
}

/** Derives the NodeId of an Ed25519 public key given as DER SubjectPublicKeyInfo. */
export function nodeIdFromPublicKeyDer(spkiDer: Uint8Array): NodeId {
  const principal = new Uint8Array(PRINCIPAL_BYTES);
  principal.set(createHash('sha224').update(spkiDer).digest(), 0);
  principal[PRINCIPAL_BYTES - 1] = SELF_AUTHENTICATING_TAG;
  return principalToText(principal) as NodeId;
}

/**
 * Validates the text form of a NodeId (alphabet, grouping, checksum, self-authenticating tag)
 * and returns it branded. Throws {@link IdentityError} naming what is wrong.
 */
export function parseNodeId(text: string): NodeId {
  if (!NODE_ID_PATTERN.test(text)) {
    throw new IdentityError(
      `'${text.slice(0, 80)}' is not a NodeId (expected 11 dash-separated groups of lower-case base32)`,
    );
  }
  const bytes = unbase32(text.replaceAll('-', ''));
  if (bytes.length !== 4 + PRINCIPAL_BYTES) {
    throw new IdentityError(`NodeId '${text}' has ${bytes.length} bytes, expected 33`);
  }
  const principal = bytes.subarray(4);
  const expected = new DataView(bytes.buffer).getUint32(0);
  if (crc32(principal) >>> 0 !== expected) {
    throw new IdentityError(`NodeId '${text}' has a bad checksum`);
  }
  if (principal[PRINCIPAL_BYTES - 1] !== SELF_AUTHENTICATING_TAG) {
    throw new IdentityError(`NodeId '${text}' is not a self-authenticating principal`);
  }
  return text as NodeId;
}

/** Orders NodeIds by their text form; the lower NodeId of a pair dials the other. */
export function compareNodeIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
