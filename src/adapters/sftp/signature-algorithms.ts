/**
 * SSH signatures without SHA-1 or DSA, for host keys and user authentication alike: an RSA key
 * must sign with rsa-sha2-256 or rsa-sha2-512. Two ssh2 1.17 defaults are corrected on each
 * connection (ssh2 has no option for either; both touch its private Protocol object, and
 * test/security/ssh-algorithms.test.ts fails if an ssh2 upgrade changes them):
 * - with an RSA host key, ssh2 always appends `ssh-rsa` to the offered host-key algorithms,
 *   whatever `algorithms.serverHostKey` says: it is taken out of the KEXINIT offer;
 * - ssh2 sends a fixed `server-sig-algs` (RFC 8308 EXT_INFO) that lists `ssh-rsa` and
 *   `ssh-dss` and runs two names together (`…nistp521rsa-sha2-512`): Sluice sends its own,
 *   exactly what user authentication accepts.
 */
import { createRequire } from 'node:module';
import type { Connection } from 'ssh2';

/** Signature algorithms accepted for user authentication, advertised in this order. */
export const USER_AUTH_SIGNATURE_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
] as const;

/**
 * Whether a user-auth request's signature algorithm is accepted. ssh2 reports an RSA key as
 * `ssh-rsa` with the hash it signed with (`sha256`, `sha512`, or none for SHA-1).
 */
export function acceptsUserAuthSignature(keyAlgorithm: string, hashAlgorithm: string | undefined): boolean {
  if (keyAlgorithm === 'ssh-rsa') return hashAlgorithm === 'sha256' || hashAlgorithm === 'sha512';
  return (USER_AUTH_SIGNATURE_ALGORITHMS as readonly string[]).includes(keyAlgorithm);
}

/** Host-key signature algorithms never offered. */
const REFUSED_HOST_KEY_ALGORITHMS = new Set(['ssh-rsa', 'ssh-dss']);

interface KexInitList {
  array: string[];
}
interface KexInitLists {
  kex: KexInitList;
  serverHostKey: KexInitList;
  cs: Record<'cipher' | 'mac' | 'compress' | 'lang', KexInitList>;
  sc: Record<'cipher' | 'mac' | 'compress' | 'lang', KexInitList>;
}
interface KexInitOffer {
  lists: KexInitLists;
}

/** The parts of ssh2's (private) Protocol object this module touches. */
interface ProtocolInternals {
  _offer: KexInitOffer;
  _onHandshakeComplete: (...args: unknown[]) => void;
  _kex: { remoteExtInfoEnabled?: boolean } | undefined;
  _packetRW: {
    write: { allocStart: number; alloc(size: number): Buffer; finalize(packet: Buffer): Buffer };
  };
}

const SSH_MSG_EXT_INFO = 7;
const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as {
  sendPacket: (protocol: ProtocolInternals, packet: Buffer) => boolean;
};
const { KexInit } = require('ssh2/lib/protocol/kex.js') as {
  KexInit: new (algorithms: unknown) => KexInitOffer;
};

/** ssh2's offer without SHA-1/DSA host-key algorithms (one per server offer, built once). */
const restrictedOffers = new WeakMap<KexInitOffer, KexInitOffer>();
function restrictedOffer(offer: KexInitOffer): KexInitOffer {
  let restricted = restrictedOffers.get(offer);
  if (!restricted) {
    const l = offer.lists;
    const side = (s: KexInitLists['cs']) => ({
      cipher: s.cipher.array,
      mac: s.mac.array,
      compress: s.compress.array,
      lang: s.lang.array,
    });
    restricted = new KexInit({
      kex: l.kex.array,
      serverHostKey: l.serverHostKey.array.filter((a) => !REFUSED_HOST_KEY_ALGORITHMS.has(a)),
      cs: side(l.cs),
      sc: side(l.sc),
    });
    restrictedOffers.set(offer, restricted);
  }
  return restricted;
}

function sendExtInfo(protocol: ProtocolInternals): void {
  const name = Buffer.from('server-sig-algs');
  const value = Buffer.from(USER_AUTH_SIGNATURE_ALGORITHMS.join(','));
  // byte SSH_MSG_EXT_INFO, uint32 count (1), string name, string value
  const body = Buffer.alloc(1 + 4 + 4 + name.length + 4 + value.length);
  body[0] = SSH_MSG_EXT_INFO;
  body.writeUInt32BE(1, 1);
  body.writeUInt32BE(name.length, 5);
  name.copy(body, 9);
  body.writeUInt32BE(value.length, 9 + name.length);
  value.copy(body, 13 + name.length);
  const writer = protocol._packetRW.write;
  const packet = writer.alloc(body.length);
  body.copy(packet, writer.allocStart);
  sendPacket(protocol, writer.finalize(packet));
}

/**
 * Takes SHA-1/DSA host-key algorithms out of the connection's KEXINIT offer, and makes it send
 * Sluice's own `server-sig-algs` after the first key exchange (when the client asked for
 * EXT_INFO with `ext-info-c`) instead of ssh2's. Call it from the server's `connection` event:
 * ssh2 sends its KEXINIT right after that event.
 */
export function hardenSignatureAlgorithms(client: Connection): void {
  const protocol = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  if (
    !protocol ||
    typeof protocol._onHandshakeComplete !== 'function' ||
    !protocol._packetRW ||
    !protocol._offer?.lists?.serverHostKey
  ) {
    throw new Error(
      'ssh2 internals changed: cannot harden signature algorithms (see signature-algorithms.ts)',
    );
  }
  protocol._offer = restrictedOffer(protocol._offer);
  const original = protocol._onHandshakeComplete;
  let first = true;
  protocol._onHandshakeComplete = (...args: unknown[]) => {
    const wanted = first && protocol._kex?.remoteExtInfoEnabled === true;
    first = false;
    // ssh2 sends its own (wrong) list only when this is set: take it over.
    if (wanted && protocol._kex) protocol._kex.remoteExtInfoEnabled = false;
    original(...args);
    if (wanted) sendExtInfo(protocol);
  };
}
