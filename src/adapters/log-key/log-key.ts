/**
 * The log key: the Ed25519 key that signs tree heads. It lives in one PEM file (PKCS #8),
 * `MFT_DATA_DIR/log-key/ed25519.pem` unless `MFT_LOG_KEY_FILE` names another, made on first
 * start with mode 0600 in a 0700 folder and reused afterwards; never in the log or the
 * database, so whoever can edit those cannot sign a head for what they wrote. Its id is the
 * SHA-256 of the public key's DER SubjectPublicKeyInfo (as a CT log's id is), in hex.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HeadSignatureCheck, LogSigner } from '../../application/ports.js';

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

function ed25519(key: KeyObject, file: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${file} holds an ${key.asymmetricKeyType ?? 'unknown'} key, not an Ed25519 one`);
  }
  return key;
}

export interface LoadedLogKey {
  readonly signer: LogSigner;
  readonly created: boolean;
  /** True when group or others may read the file (it should be 0600). */
  readonly exposed: boolean;
}

export async function loadOrCreateLogKey(file: string): Promise<LoadedLogKey> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let pem = await readFile(file, 'utf8').catch(() => undefined);
  let created = false;
  if (pem === undefined) {
    const made = generateKeyPairSync('ed25519')
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    // Written whole under another name, then linked into place: a process starting at the same
    // time never reads half a key, and the first link wins.
    const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
    await writeFile(draft, made, { mode: 0o600, flag: 'wx' });
    try {
      await link(draft, file);
      created = true;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    } finally {
      await unlink(draft);
    }
    pem = created ? made : await readFile(file, 'utf8');
  }
  let privateKey: KeyObject;
  try {
    privateKey = ed25519(createPrivateKey(pem), file);
  } catch (error) {
    throw new Error(
      `log key ${file} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const { mode } = await stat(file);
  return {
    created,
    exposed: (mode & 0o077) !== 0,
    signer: {
      keyId: keyIdOf(publicKey),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      sign: (message) => sign(null, message, privateKey).toString('base64'),
    },
  };
}

/** The public key in a PEM file: a public key, or the public half of a private one. */
export async function readPublicKey(file: string): Promise<KeyObject> {
  const pem = await readFile(file, 'utf8');
  try {
    return ed25519(createPublicKey(pem), file);
  } catch (error) {
    throw new Error(`${file}: no Ed25519 key (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Checks heads' signatures against the trusted public keys (KeyObjects or PEM), by key id. */
export function signatureCheck(keys: readonly (KeyObject | string)[]): HeadSignatureCheck {
  const byId = new Map(
    keys
      .map((key) => (typeof key === 'string' ? createPublicKey(key) : key))
      .map((key) => [keyIdOf(key), key]),
  );
  return (keyId, message, signature) => {
    const key = byId.get(keyId);
    if (!key) return 'unknown-key';
    return verify(null, message, key, Buffer.from(signature, 'base64')) ? 'valid' : 'invalid';
  };
}
