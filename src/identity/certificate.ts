import {
  createPublicKey,
  type KeyObject,
  X509Certificate as NodeX509,
  randomBytes,
  sign,
} from 'node:crypto';
// The ASN.1 schemas only (no DI container, no `reflect-metadata`, no globals): the TBSCertificate
// is built with them and signed with node:crypto; parsing and checking use Node's X509Certificate.
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { IdentityError } from '../errors.ts';
import { type NodeId, nodeIdFromPublicKeyDer, parseNodeId } from './node-id.ts';

/** id-Ed25519 (RFC 8410): the key's and the signature's algorithm, with absent parameters. */
const ID_ED25519 = '1.3.101.112';
/** id-at-commonName. */
const ID_AT_COMMON_NAME = '2.5.4.3';
/** The characters of an ASN.1 PrintableString (X.680 §41.4). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;

/** A parsed node certificate: who it names, and whether its key is the named one. */
export interface CertificateInfo {
  /** The NodeId in the subject CN. */
  nodeId: NodeId;
  /** The certificate, DER. */
  der: Buffer;
  /** The certificate, PEM. */
  pem: string;
}

/** What goes into a self-signed Ed25519 certificate (see {@link encodeSelfSignedCertificate}). */
export interface SelfSignedCertificateFields {
  /** Subject and issuer CN (a PrintableString when it can be one, else a UTF8String). */
  commonName: string;
  /** Big-endian unsigned serial; 8 random bytes if absent. Encoded as a positive INTEGER. */
  serialNumber?: Uint8Array;
  /** Default: one day ago. Whole seconds; UTCTime up to 2049, GeneralizedTime after. */
  notBefore?: Date;
  /** Default: 9999-12-31T23:59:59Z. */
  notAfter?: Date;
  /** A critical BasicConstraints extension with cA = FALSE; default true. */
  basicConstraints?: boolean;
}

/** The minimal two's-complement octets of a non-negative integer given big-endian unsigned. */
function positiveIntegerOctets(unsigned: Uint8Array): Uint8Array {
  let first = 0;
  while (first < unsigned.length - 1 && unsigned[first] === 0) first++;
  const digits = unsigned.length === 0 ? Uint8Array.of(0) : unsigned.subarray(first);
  if (digits[0]! < 0x80) return Uint8Array.from(digits);
  const out = new Uint8Array(digits.length + 1);
  out.set(digits, 1);
  return out;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function commonNameOnly(cn: string): Name {
  const value = PRINTABLE.test(cn)
    ? new AttributeValue({ printableString: cn })
    : new AttributeValue({ utf8String: cn });
  return new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: ID_AT_COMMON_NAME, value })]),
  ]);
}

/**
 * Encodes a v3 X.509 certificate for the Ed25519 `privateKey`'s public key, issued by itself
 * (subject = issuer = CN only) and signed with `privateKey`. Returns DER.
 */
export function encodeSelfSignedCertificate(
  privateKey: KeyObject,
  fields: SelfSignedCertificateFields,
): Buffer {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError(
      `certificate key is a ${privateKey.type} ${privateKey.asymmetricKeyType ?? 'unknown'} key, expected a private ed25519 key`,
    );
  }
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const algorithm = new AlgorithmIdentifier({ algorithm: ID_ED25519 });
  const name = commonNameOnly(fields.commonName);
  const extensions = new Extensions();
  if (fields.basicConstraints ?? true) {
    extensions.push(
      new Extension({
        extnID: id_ce_basicConstraints,
        critical: true,
        extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: false }))),
      }),
    );
  }
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(positiveIntegerOctets(fields.serialNumber ?? randomBytes(8))),
    signature: algorithm,
    issuer: name,
    validity: new Validity({
      notBefore: fields.notBefore ?? new Date(Date.now() - 86_400_000),
      notAfter: fields.notAfter ?? new Date('9999-12-31T23:59:59Z'),
    }),
    subject: name,
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    ...(extensions.length > 0 ? { extensions } : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: toArrayBuffer(sign(null, tbsDer, privateKey)),
  });
  return Buffer.from(AsnConvert.serialize(certificate));
}

/**
 * Creates the self-signed Ed25519 certificate of a node, PEM: subject and issuer CN = NodeId,
 * a random 64-bit serial, valid from one day ago until 9999-12-31 (the registry, not the clock,
 * decides validity), and a critical BasicConstraints extension saying it is no CA.
 */
export function createSelfSignedCertificate(privateKey: KeyObject): string {
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const der = encodeSelfSignedCertificate(privateKey, { commonName: nodeIdFromPublicKeyDer(spki) });
  return new NodeX509(der).toString();
}

/**
 * Parses a node certificate (PEM or DER) and checks that it is self-authenticating: an
 * Ed25519 key, a subject CN that is a valid NodeId, and that NodeId derived from the key.
 * Throws {@link IdentityError} saying which check failed.
 */
export function parseNodeCertificate(input: string | Uint8Array): CertificateInfo {
  let cert: NodeX509;
  try {
    cert = new NodeX509(input);
  } catch (cause) {
    throw new IdentityError('not an X.509 certificate (expected PEM or DER)', { cause });
  }
  if (cert.publicKey.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError(
      `certificate key is ${cert.publicKey.asymmetricKeyType ?? 'unknown'}, expected ed25519`,
    );
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (cn === undefined) throw new IdentityError('certificate subject has no CN');
  const nodeId = parseNodeId(cn);
  const derived = nodeIdFromPublicKeyDer(cert.publicKey.export({ type: 'spki', format: 'der' }));
  if (derived !== nodeId) {
    throw new IdentityError(
      `certificate CN ${nodeId} does not match its public key (which is node ${derived})`,
    );
  }
  return { nodeId, der: Buffer.from(cert.raw), pem: cert.toString() };
}
