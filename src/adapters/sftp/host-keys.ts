/**
 * SSH host keys: generated on first start under `MFT_DATA_DIR/ssh` (ed25519 and RSA 3072,
 * OpenSSH format, mode 0600), reused afterwards so clients' known_hosts stay valid.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import { fingerprintOf } from '../ssh/public-keys.js';

export interface HostKey {
  readonly type: 'ssh-ed25519' | 'ssh-rsa';
  readonly privateKey: string;
  /** SHA256 fingerprint, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly file: string;
}

const KINDS = [
  {
    type: 'ssh-ed25519',
    file: 'ssh_host_ed25519_key',
    generate: () => ssh2.utils.generateKeyPairSync('ed25519'),
  },
  {
    type: 'ssh-rsa',
    file: 'ssh_host_rsa_key',
    generate: () => ssh2.utils.generateKeyPairSync('rsa', { bits: 3072 }),
  },
] as const;

/**
 * A new private key that ssh2 can read back. ssh2's generateKeyPairSync('ed25519') drops the
 * public key's leading zero bytes, so about one key in 256 cannot be parsed afterwards
 * (mscdex/ssh2#1390, #1513): such a key is thrown away and another one made.
 */
export function generateReadable(generate: () => { private: string }, attempts = 32): string {
  for (let attempt = 1; ; attempt += 1) {
    const { private: privateKey } = generate();
    const parsed = ssh2.utils.parseKey(privateKey);
    if (!(parsed instanceof Error)) return privateKey;
    if (attempt >= attempts) throw new Error(`could not make a readable host key: ${parsed.message}`);
  }
}

export async function loadOrCreateHostKeys(dataDir: string): Promise<HostKey[]> {
  const dir = path.join(dataDir, 'ssh');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keys: HostKey[] = [];
  for (const kind of KINDS) {
    const file = path.join(dir, kind.file);
    let privateKey = await readFile(file, 'utf8').catch(() => undefined);
    if (privateKey === undefined) {
      privateKey = generateReadable(kind.generate);
      await writeFile(file, privateKey, { mode: 0o600, flag: 'wx' }).catch(async () => {
        privateKey = await readFile(file, 'utf8'); // another process made it first
      });
    }
    const parsed = ssh2.utils.parseKey(privateKey);
    if (parsed instanceof Error) throw new Error(`host key ${file} cannot be read: ${parsed.message}`);
    const key = Array.isArray(parsed) ? parsed[0]! : parsed;
    keys.push({ type: kind.type, privateKey, fingerprint: fingerprintOf(key.getPublicSSH()), file });
  }
  return keys;
}
