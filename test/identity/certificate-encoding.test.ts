import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  id_ce_basicConstraints,
  Version,
} from '@peculiar/asn1-x509';
import { IdentityError } from '../../src/errors.ts';
import { encodeSelfSignedCertificate } from '../../src/identity/certificate.ts';
import { generateIdentity } from '../../src/identity/index.ts';

const ID_ED25519 = '1.3.101.112';
const DAY_MS = 86_400_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX_URL = new URL('../../src/index.ts', import.meta.url).href;

/**
 * Runs in a fresh process (nothing else loaded): imports the library, makes an identity and
 * reports what the import did to the globals and whether Node accepts the certificate.
 */
const CHILD = `
import { X509Certificate } from 'node:crypto';
import { runInNewContext } from 'node:vm';
const globalsBefore = new Set(Object.getOwnPropertyNames(globalThis));
const lib = await import(${JSON.stringify(INDEX_URL)});
const identity = await lib.generateIdentity();
const cert = new X509Certificate(identity.certificateDer);
const fresh = new Set(runInNewContext('Object.getOwnPropertyNames(Reflect)'));
process.stdout.write(JSON.stringify({
  getMetadata: typeof Reflect.getMetadata,
  defineMetadata: typeof Reflect.defineMetadata,
  reflectAdded: Object.getOwnPropertyNames(Reflect).filter((k) => !fresh.has(k)),
  globalsAdded: Object.getOwnPropertyNames(globalThis).filter((k) => !globalsBefore.has(k)),
  nodeId: identity.nodeId,
  subject: cert.subject,
  keyType: cert.publicKey.asymmetricKeyType,
  verifies: cert.verify(cert.publicKey),
  selfIssued: cert.checkIssued(cert),
}));
`;

describe('node certificates without @peculiar/x509 or reflect-metadata', () => {
  it('importing the library installs no Reflect polyfill, and Node verifies its certificates', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', CHILD],
      { cwd: ROOT, timeout: 60_000 },
    );
    const seen = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(
      seen.getMetadata,
      'undefined',
      'Reflect.getMetadata is defined: a polyfill is back',
    );
    assert.equal(seen.defineMetadata, 'undefined');
    assert.deepEqual(seen.reflectAdded, [], 'the library added properties to Reflect');
    // tslib's CommonJS build (required by the ASN.1 schemas) defines its helpers (__extends,
    // __decorate, ...) on the global object, as it did under @peculiar/x509; nothing else may.
    const globalsAdded = seen.globalsAdded as string[];
    assert.deepEqual(
      globalsAdded.filter((name) => !/^__[A-Za-z]+$/.test(name)),
      [],
      `the library defined globals: ${globalsAdded.join(', ')}`,
    );
    assert.equal(seen.subject, `CN=${seen.nodeId}`);
    assert.equal(seen.keyType, 'ed25519');
    assert.equal(seen.verifies, true);
    assert.equal(seen.selfIssued, true);
  });

  it('makes the same certificate as before: v3, CN = NodeId, validity, serial, BasicConstraints', async () => {
    const before = Date.now();
    const id = await generateIdentity();
    const generated = Date.now();
    const node = new X509Certificate(id.certificateDer);
    assert.equal(node.subject, `CN=${id.nodeId}`);
    assert.equal(node.issuer, `CN=${id.nodeId}`);
    assert.equal(node.ca, false);
    assert.equal(node.publicKey.asymmetricKeyType, 'ed25519');
    assert.ok(node.verify(node.publicKey));
    assert.ok(node.checkPrivateKey(createPrivateKey(id.privateKeyPem)));
    assert.equal(node.validTo, 'Dec 31 23:59:59 9999 GMT');
    // A day before the generation, in whole seconds: between `before` (rounded down to its
    // second) and the end of the generation, less a day. (Compared with `before` alone, it
    // failed when the generation crossed into the next second, once in a loaded run.)
    const validFrom = Date.parse(node.validFrom);
    const earliest = Math.floor((before - DAY_MS) / 1000) * 1000;
    assert.ok(validFrom >= earliest && validFrom <= generated - DAY_MS, node.validFrom);

    const asn = AsnConvert.parse(id.certificateDer, Certificate);
    const tbs = asn.tbsCertificate;
    assert.equal(tbs.version, Version.v3);
    for (const alg of [tbs.signature, asn.signatureAlgorithm, tbs.subjectPublicKeyInfo.algorithm]) {
      assert.equal(alg.algorithm, ID_ED25519);
      assert.equal(alg.parameters, undefined, 'Ed25519 takes absent parameters (RFC 8410)');
    }
    // A positive INTEGER from 8 random bytes: 8 octets, or 9 with a 0x00 before a high bit.
    const serial = new Uint8Array(tbs.serialNumber);
    assert.ok(serial[0]! < 0x80, 'serial is positive');
    assert.ok(serial.length === 8 || (serial.length === 9 && serial[0] === 0), `${serial}`);
    const serialHex = Buffer.from(serial).toString('hex').toUpperCase();
    assert.equal(node.serialNumber.replace(/^0+/, ''), serialHex.replace(/^0+/, ''));
    assert.ok(tbs.validity.notBefore.utcTime, 'notBefore is a UTCTime');
    assert.ok(tbs.validity.notAfter.generalTime, 'notAfter is a GeneralizedTime');
    assert.equal(tbs.subject[0]?.[0]?.value.printableString, id.nodeId);
    assert.equal(tbs.issuer[0]?.[0]?.value.printableString, id.nodeId);

    assert.equal(tbs.extensions?.length, 1);
    const ext = tbs.extensions![0]!;
    assert.equal(ext.extnID, id_ce_basicConstraints);
    assert.equal(ext.critical, true);
    const bc = AsnConvert.parse(ext.extnValue, BasicConstraints);
    assert.equal(bc.cA, false);
    assert.equal(bc.pathLenConstraint, undefined);
    // DER of the extension: critical BOOLEAN TRUE, cA = FALSE (the default) left out.
    assert.ok(id.certificateDer.includes(Buffer.from('300c0603551d130101ff04023000', 'hex')));

    assert.ok(
      verify(
        null,
        Buffer.from(AsnConvert.serialize(tbs)),
        node.publicKey,
        Buffer.from(asn.signatureValue),
      ),
      'the signature is Ed25519 over the DER TBSCertificate',
    );
    const serials = new Set(
      await Promise.all([1, 2, 3].map(async () => (await generateIdentity()).certificateDer)),
    ).size;
    assert.equal(serials, 3);
  });

  it('encodes serials as minimal positive INTEGERs and takes only Ed25519 private keys', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const serialOf = (bytes: number[]) => {
      const der = encodeSelfSignedCertificate(privateKey, {
        commonName: 'test',
        serialNumber: Uint8Array.from(bytes),
      });
      const cert = new X509Certificate(der);
      assert.ok(cert.verify(publicKey));
      return Buffer.from(AsnConvert.parse(der, Certificate).tbsCertificate.serialNumber).toString(
        'hex',
      );
    };
    assert.equal(serialOf([0x80, 0x01]), '008001');
    assert.equal(serialOf([0x00, 0x00, 0x05]), '05');
    assert.equal(serialOf([0x00, 0xff]), '00ff');
    assert.equal(serialOf([0x7f, 0x00]), '7f00');

    const plain = encodeSelfSignedCertificate(privateKey, {
      commonName: 'não imprimível',
      basicConstraints: false,
    });
    const asn = AsnConvert.parse(plain, Certificate).tbsCertificate;
    assert.equal(asn.extensions, undefined);
    assert.equal(asn.subject[0]?.[0]?.value.utf8String, 'não imprimível');
    assert.equal(new X509Certificate(plain).subject, 'CN=não imprimível');

    assert.throws(
      () =>
        encodeSelfSignedCertificate(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {
          commonName: 'x',
        }),
      IdentityError,
    );
    assert.throws(() => encodeSelfSignedCertificate(publicKey, { commonName: 'x' }), IdentityError);
  });

  it('two identities complete a mutual TLS 1.3 handshake with these certificates', async () => {
    const [a, b] = await Promise.all([generateIdentity(), generateIdentity()]);
    const server = tls.createServer({
      key: b.privateKeyPem,
      cert: b.certificatePem,
      minVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: false,
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
      const client = tls.connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        key: a.privateKeyPem,
        cert: a.certificatePem,
        minVersion: 'TLSv1.3',
        rejectUnauthorized: false,
      });
      await once(client, 'secureConnect');
      const [serverSide] = await accepted;
      assert.equal(client.getProtocol(), 'TLSv1.3');
      assert.ok(client.getPeerX509Certificate()?.raw.equals(b.certificateDer));
      assert.ok(serverSide.getPeerX509Certificate()?.raw.equals(a.certificateDer));
      client.destroy();
      serverSide.destroy();
    } finally {
      server.close();
    }
  });
});
