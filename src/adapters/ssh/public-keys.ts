/** SSH public keys as users paste them: parsed and fingerprinted with ssh2, OpenSSH style. */
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { PublicKeyInput } from '../../domain/users/user.js';

export class InvalidPublicKey extends Error {
  override readonly name = 'InvalidPublicKey';
}

const ALLOWED = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** `SHA256:<base64 without padding>` of the key's wire blob, as `ssh-keygen -l` prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses one `type base64 [comment]` line; refuses private keys, multiple keys and junk. */
export function parsePublicKey(line: string): PublicKeyInput {
  const text = line.trim();
  if (text.length === 0 || text.length > 16_384 || /[\r\n\0]/.test(text)) {
    throw new InvalidPublicKey('a public key is one line of "type base64 [comment]"');
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) throw new InvalidPublicKey(`not an SSH public key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || (Array.isArray(parsed) && parsed.length !== 1))
    throw new InvalidPublicKey('exactly one key per entry');
  if (key.isPrivateKey()) throw new InvalidPublicKey('that is a private key: paste the .pub file instead');
  if (!ALLOWED.has(key.type)) throw new InvalidPublicKey(`key type ${key.type} is not accepted`);
  const blob = key.getPublicSSH();
  const [, , ...rest] = text.split(/\s+/);
  const comment = rest
    .join(' ')
    .slice(0, 255)
    .replace(/[^\x20-\x7e]/g, '');
  return {
    fingerprint: fingerprintOf(blob),
    algorithm: key.type,
    publicKey: `${key.type} ${blob.toString('base64')}`,
    comment,
  };
}
