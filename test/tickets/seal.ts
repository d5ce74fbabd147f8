/**
 * Test-only: seals or opens arbitrary plaintext exactly as the ticket format does, written
 * independently of TicketCodec so the tests also cross-check the codec against the spec.
 * The version byte defaults to 0x02 (the current format); pass another to seal older or unknown
 * versions.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

function key(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'sluice-ticket', 'aes-256-gcm v1', 32));
}

export function sealBytes(
  secret: string,
  plaintext: string | Buffer,
  options: { version?: number; nonce?: Buffer } = {},
): Buffer {
  const version = Buffer.of(options.version ?? 0x02);
  const nonce = options.nonce ?? randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key(secret), nonce);
  cipher.setAAD(version);
  const body = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const ciphertext = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([version, nonce, ciphertext, cipher.getAuthTag()]);
}

export function seal(
  secret: string,
  plaintext: string | Buffer,
  options: { version?: number; nonce?: Buffer } = {},
): string {
  return sealBytes(secret, plaintext, options).toString('base64url');
}

export function unseal(secret: string, ticket: string): string {
  const bytes = Buffer.from(ticket, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key(secret), bytes.subarray(1, 13));
  decipher.setAAD(bytes.subarray(0, 1));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]).toString(
    'utf8',
  );
}
