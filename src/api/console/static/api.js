/**
 * The public API, called as any integrator calls it: JSON over fetch with
 * `Authorization: Bearer <token>`. The token of the console's OpenImmutable session lives in
 * sessionStorage (this tab only, gone when it closes) and is never put in a URL.
 */

const KEY = 'sluice.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** A problem+json answer (or any failed call), with the API's title and detail. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Called when the API says the session is over (401): the app shows the sign-in page. */
let signedOut = () => {};
export function onSignedOut(handler) {
  signedOut = handler;
}

function url(path, query) {
  const params = query instanceof URLSearchParams ? query : new URLSearchParams(query ?? {});
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function headers(extra = {}) {
  const bearer = token.get();
  return { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...extra };
}

async function failure(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  if (response.status === 401 && token.get()) {
    token.clear();
    signedOut(problem?.title ?? 'Your session has ended');
  }
  return new ApiError(response.status, problem);
}

/** A JSON call: api('GET', '/api/v1/sessions', {query}); api('POST', path, {body}). */
export async function api(method, path, { query, body, signal } = {}) {
  const response = await fetch(url(path, query), {
    method,
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** Fetches an export and hands it to the browser as a download named as the server names it. */
export async function download(path, query) {
  const response = await fetch(url(path, query), { headers: headers() });
  if (!response.ok) throw await failure(response);
  const disposition = response.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'export';
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return name;
}

/**
 * The live audit stream (Server-Sent Events) read with fetch, since EventSource cannot send an
 * Authorization header. Calls `on.open(position)` when the server says where it starts,
 * `on.row(item)` per event and `on.end(reason)`; resumes with Last-Event-ID when `after` is given.
 */
export async function stream(path, query, { signal, after, on }) {
  const response = await fetch(url(path, query), {
    headers: headers({
      accept: 'text/event-stream',
      ...(after === undefined ? {} : { 'last-event-id': String(after) }),
    }),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      dispatch(buffer.slice(0, end), on);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
    }
  }
}

function dispatch(block, on) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    const opening = /^: following the audit view from position (\d+)/.exec(line);
    if (opening) on.open(Number(opening[1]));
    else if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (event === 'audit' && data) on.row(JSON.parse(data));
  else if (event === 'end') on.end(data ? JSON.parse(data).reason : 'ended');
}
