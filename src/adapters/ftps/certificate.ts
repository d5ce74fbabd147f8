/**
 * The FTPS certificate: the configured PEM pair (MFT_FTPS_CERT/MFT_FTPS_KEY), or a self-signed
 * one made on first start under `MFT_DATA_DIR/ftps` (ECDSA P-256, ten years, key mode 0600)
 * and reused afterwards, as the SSH host keys are, so clients that pinned it keep trusting it.
 *
 * Node can sign but not build an X.509 certificate, so the few DER structures one needs are
 * written here (no dependency, no `openssl` binary); `X509Certificate` reads the result back.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface FtpsCertificate {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint, as browsers and `openssl x509 -fingerprint -sha256` show it. */
  readonly fingerprint: string;
  /** Where it came from: the configured files, or the generated pair. */
  readonly certFile: string;
  readonly generated: boolean;
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const sequence = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${iso}Z`));
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

/** A self-signed certificate for `commonName`, valid for localhost and 127.0.0.1 as well. */
export function selfSigned(commonName: string, now = new Date()): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // Positive and minimally encoded (DER): the first byte neither 0 nor above 0x7f.
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const name = sequence(tlv(0x31, sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName)))));
  const notAfter = new Date(now.getTime() + 10 * 365 * 86_400_000);
  const altNames = sequence(tlv(0x82, Buffer.from('localhost')), tlv(0x87, Buffer.from([127, 0, 0, 1])));
  const extensions = tlv(
    0xa3,
    sequence(
      sequence(oid('2.5.29.17'), tlv(0x04, altNames)),
      sequence(oid('2.5.29.19'), tlv(0x04, sequence())),
    ),
  );
  const tbs = sequence(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(time(now), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${body.trimEnd()}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The configured pair, checked; else the generated one under `dataDir/ftps`, made if missing. */
export async function loadOrCreateCertificate(
  dataDir: string,
  configured: { certFile: string; keyFile: string } | null,
): Promise<FtpsCertificate> {
  let certFile: string;
  let keyFile: string;
  let generated = false;
  if (configured) {
    ({ certFile, keyFile } = configured);
  } else {
    const dir = path.join(dataDir, 'ftps');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    certFile = path.join(dir, 'cert.pem');
    keyFile = path.join(dir, 'key.pem');
    if ((await readFile(keyFile, 'utf8').catch(() => undefined)) === undefined) {
      const made = selfSigned('Sluice FTPS');
      // The key first, exclusively: of two processes starting together, one pair wins whole.
      const won = await writeFile(keyFile, made.key, { mode: 0o600, flag: 'wx' }).then(
        () => true,
        () => false,
      );
      if (won) await writeFile(certFile, made.cert, { mode: 0o644 });
      generated = won;
    }
  }
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key)))
      throw new Error('the key does not match the certificate');
  } catch (error) {
    throw new Error(
      `FTPS certificate ${certFile}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { cert, key, fingerprint: x509.fingerprint256, certFile, generated };
}
