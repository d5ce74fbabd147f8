/**
 * HTTPS settings: TLS 1.2 or newer, forward-secret AEAD suites only (ECDHE with AES-GCM or
 * ChaCha20-Poly1305; the TLS 1.3 suites are all AEAD with ephemeral keys), and an HSTS header on
 * every response so browsers never fall back to plain HTTP for this host.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** TLS 1.3 suites (OpenSSL names), then the TLS 1.2 ECDHE + AEAD suites. */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Options for node:https (through fastify's `https`). */
export const TLS_SERVER_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: TLS_CIPHERS,
  honorCipherOrder: true,
} as const;

/** One year, this host only (no includeSubDomains: Sluice does not speak for sibling hosts). */
export const HSTS_HEADER = 'max-age=31536000';

/** Adds Strict-Transport-Security to every HTTPS response (problems and 404s included). */
export const hstsPlugin = fp(async (app: FastifyInstance) => {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('strict-transport-security', HSTS_HEADER);
    return payload;
  });
});
