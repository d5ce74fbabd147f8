/**
 * The HTTP file API on the shared file-operations core: the same virtual paths, permissions,
 * staged uploads and events as SFTP. Bodies stream in and out (never buffered whole); the
 * reply to an upload, delete or move is sent only after its event is durable.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FileOperations } from '../../application/files/file-operations.js';
import { type CoreSession, type FileHandle, READ_ONLY } from '../../application/files/file-session.js';
import { principalOf } from '../auth.js';
import { decodeCursor, encodeCursor, PageQuery } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import { FolderPage, MoveBody, MovedSchema, PathParams, UploadedSchema } from './schemas.js';

export interface FileRoutesOptions {
  readonly files: FileOperations;
  /** Largest upload accepted, in bytes. */
  readonly maxUploadBytes: number;
  /** Size and sha256 of a user's file as the files view knows it (for ETag), if it does. */
  readonly knownDigest?: (
    userId: number,
    path: string,
  ) => Promise<{ size: number; sha256: string } | undefined>;
}

const CHUNK = 256 * 1024;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** The sha-256 a client sent in Content-Digest (RFC 9530) or Digest (RFC 3230), as hex. */
export function expectedDigest(headers: IncomingMessage['headers']): string | undefined {
  const contentDigest = headers['content-digest'];
  if (typeof contentDigest === 'string') {
    const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/i.exec(contentDigest);
    if (!match) throw new Problem(400, 'invalid-digest', 'Content-Digest must carry sha-256=:<base64>:');
    return Buffer.from(match[1]!, 'base64').toString('hex');
  }
  const digest = headers.digest;
  if (typeof digest === 'string') {
    const match = /(?:^|,)\s*sha-256=([A-Za-z0-9+/=]+)/i.exec(digest);
    if (!match) throw new Problem(400, 'invalid-digest', 'Digest must carry SHA-256=<base64>');
    return Buffer.from(match[1]!, 'base64').toString('hex');
  }
  return undefined;
}

/** One `bytes=start-end` range (suffix and open ranges too), or undefined for the whole file. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined | 'unsatisfiable' {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // several or odd ranges: send it all
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function fileSession(files: FileOperations, request: FastifyRequest): CoreSession {
  const principal = principalOf(request);
  const session = principal.session;
  return files.session({
    userId: principal.user.userId,
    userName: principal.user.userName,
    homeFolder: principal.user.homeFolder,
    permissions: principal.user.permissions,
    quotaBytes: principal.user.quotaBytes,
    maxFileBytes: principal.user.maxFileBytes,
    sessionId: session.sessionId,
    applicationId: session.applicationId,
    userString: session.userString,
    clientIp: request.ip,
    ...(request.socket.remotePort === undefined ? {} : { clientPort: request.socket.remotePort }),
    protocol: 'http',
  });
}

/** The virtual path in the URL after the route's prefix, percent-decoded once. */
function pathOf(request: FastifyRequest): string {
  const wildcard = (request.params as { '*'?: string })['*'] ?? '';
  return `/${wildcard}`;
}

/** Streams a file handle from `start` to `end` (inclusive), closing it at the end or on abort. */
function streamFile(handle: FileHandle, start: number, end: number): Readable {
  let position = start;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  return new Readable({
    highWaterMark: CHUNK,
    async read() {
      try {
        if (position > end) {
          await close();
          this.push(null);
          return;
        }
        const data = await handle.read(position, Math.min(CHUNK, end - position + 1));
        if (data === null) {
          await close();
          this.push(null);
          return;
        }
        position += data.length;
        this.push(data);
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      close().then(
        () => callback(error),
        (closeError: unknown) => callback((error ?? closeError) as Error | null),
      );
    },
  });
}

export const fileRoutes: FastifyPluginAsyncTypebox<FileRoutesOptions> = async (
  app,
  { files, maxUploadBytes, knownDigest },
) => {
  const tags = ['files'];
  const problems = problemResponses(400, 401, 403, 404);
  const Wildcard = PathParams;

  // Uploads in a scope of their own: whatever their type, bodies are streamed to the core,
  // never parsed or buffered.
  await app.register(async (uploads) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    uploads.put(
      '/files/*',
      {
        schema: {
          tags,
          summary: 'Upload a file (streamed; visible under its name only once complete)',
          description:
            '`If-None-Match: *` refuses to replace an existing file (412). `Content-Digest: sha-256=:<base64>:` (or `Digest: SHA-256=<base64>`) must match the body, or the upload is discarded and recorded as aborted (400).',
          params: Wildcard,
          consumes: ['application/octet-stream'],
          response: {
            201: UploadedSchema,
            200: UploadedSchema,
            ...problems,
            ...problemResponses(412, 413),
          },
        },
      },
      async (request, reply) => {
        const session = fileSession(files, request);
        const path = pathOf(request);
        const noOverwrite = request.headers['if-none-match'] === '*';
        const digest = expectedDigest(request.headers);
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (Number.isFinite(declared) && declared > maxUploadBytes) {
          throw new Problem(413, 'too-large', `Uploads are limited to ${maxUploadBytes} bytes`);
        }
        const body = ((request.body as IncomingMessage | undefined) ?? request.raw) as IncomingMessage;
        const stored = await session.upload(
          path,
          {
            chunks: body,
            complete: (bytes) => !body.readableAborted && (!Number.isFinite(declared) || bytes === declared),
          },
          { overwrite: !noOverwrite, maxBytes: maxUploadBytes, expectedSha256: digest },
        );
        reply.status(stored.overwrote ? 200 : 201).header('etag', `"${stored.sha256}"`);
        return stored;
      },
    );
  });

  /**
   * GET and HEAD alike: the core checks the right to see the path (STAT), then the download
   * permission (the file is opened for reading); only then are size, dates and ETag told. A HEAD
   * (or a 304) closes the handle unread, which records no download; every GET records one, an
   * empty file's included.
   */
  const download = async (request: FastifyRequest, reply: FastifyReply, headOnly: boolean) => {
    const session = fileSession(files, request);
    const path = pathOf(request);
    const attrs = await session.stat(path);
    if (((attrs.mode ?? 0) & S_IFMT) === S_IFDIR)
      throw new Problem(409, 'is-a-directory', `${path} is a folder: use /api/v1/folders`);
    const size = attrs.size ?? 0;
    const handle = await session.open(path, READ_ONLY);
    let streaming = false;
    try {
      // ETag = sha256, when the files view knows this file at this size.
      const known = knownDigest
        ? await knownDigest(principalOf(request).user.userId, await session.realpath(path))
        : undefined;
      if (known && known.size === size) {
        const etag = `"${known.sha256}"`;
        reply.header('etag', etag);
        if (request.headers['if-none-match'] === etag) return reply.status(304).send();
      }
      reply.header('accept-ranges', 'bytes');
      reply.header('last-modified', new Date((attrs.mtime ?? 0) * 1000).toUTCString());
      reply.header('content-type', 'application/octet-stream');
      if (headOnly) {
        reply.header('content-length', String(size));
        // An (empty) stream keeps our Content-Length on fastify's HEAD route.
        return reply.status(200).send(Readable.from([]));
      }
      const range = parseRange(request.headers.range, size);
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${size}`);
        throw new Problem(416, 'range-not-satisfiable', `The file has ${size} bytes`);
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      reply.header('content-length', String(Math.max(0, end - start + 1)));
      if (range) reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
      // The download is on record (DownloadStarted) before a header leaves: a read of nothing
      // records its start, or fails cleanly. It also makes an empty file's download recorded
      // when the handle closes. A HEAD or a 304 reads nothing and records nothing.
      await handle.read(start, 0);
      if (size === 0) return reply.send(Buffer.alloc(0));
      streaming = true;
      return reply.send(streamFile(handle, start, end));
    } finally {
      if (!streaming) await handle.close();
    }
  };
  app.get(
    '/files/*',
    {
      schema: {
        tags,
        summary: 'Download a file (streamed; single byte ranges with Range); HEAD gives its size and dates',
        params: Wildcard,
        produces: ['application/octet-stream'],
        response: {
          200: { type: 'string', format: 'binary' },
          206: { type: 'string', format: 'binary', description: 'The requested range' },
          ...problems,
        },
      },
    },
    (request, reply) => download(request, reply, request.method === 'HEAD'),
  );

  app.delete(
    '/files/*',
    {
      schema: {
        tags,
        summary: 'Delete a file',
        params: Wildcard,
        response: { 204: Type.Null(), ...problems },
      },
    },
    async (request, reply) => {
      await fileSession(files, request).remove(pathOf(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/moves',
    {
      schema: {
        tags,
        summary: 'Move or rename a file or folder',
        description:
          'Never replaces an existing target unless `overwrite` is true (and you hold the overwrite permission).',
        body: MoveBody,
        response: { 200: MovedSchema, ...problems, ...problemResponses(409, 412) },
      },
    },
    async (request) => {
      const { from, to, overwrite } = request.body;
      const session = fileSession(files, request);
      await session.rename(from, to, { overwrite: overwrite ?? false });
      return { from: await session.realpath(from), to: await session.realpath(to) };
    },
  );

  const FolderParams = PathParams;
  const FolderQuery = Type.Object(
    { limit: PageQuery.limit, cursor: PageQuery.cursor },
    { additionalProperties: false },
  );

  app.get(
    '/folders/*',
    {
      schema: {
        tags,
        summary: 'List a folder (paged by name)',
        params: FolderParams,
        querystring: FolderQuery,
        response: { 200: FolderPage, ...problems },
      },
    },
    async (request) => {
      const session = fileSession(files, request);
      const limit = request.query.limit ?? 50;
      const after = decodeCursor(request.query.cursor, { name: 'string' })?.name;
      const handle = await session.openDirectory(pathOf(request));
      const entries = [];
      try {
        for (let chunk = await handle.next(); chunk; chunk = await handle.next()) entries.push(...chunk);
      } finally {
        await handle.close();
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const rest = after === undefined ? entries : entries.filter((e) => e.name > after);
      const items = rest.slice(0, limit).map((e) => ({
        name: e.name,
        type: ((e.attrs.mode ?? 0) & S_IFMT) === S_IFDIR ? ('folder' as const) : ('file' as const),
        size: e.attrs.size ?? 0,
        modifiedAt: new Date((e.attrs.mtime ?? 0) * 1000).toISOString(),
      }));
      const last = items[items.length - 1];
      return { items, nextCursor: rest.length > limit && last ? encodeCursor({ name: last.name }) : null };
    },
  );

  app.post(
    '/folders/*',
    {
      schema: {
        tags,
        summary: 'Create a folder',
        params: FolderParams,
        response: { 201: Type.Object({ path: Type.String() }), ...problems, ...problemResponses(409) },
      },
    },
    async (request, reply) => {
      const session = fileSession(files, request);
      const path = pathOf(request);
      await session.mkdir(path);
      reply.status(201);
      return { path: await session.realpath(path) };
    },
  );

  app.delete(
    '/folders/*',
    {
      schema: {
        tags,
        summary: 'Remove an empty folder',
        params: FolderParams,
        response: { 204: Type.Null(), ...problems, ...problemResponses(409) },
      },
    },
    async (request, reply) => {
      await fileSession(files, request).rmdir(pathOf(request));
      return reply.status(204).send(null);
    },
  );
};
