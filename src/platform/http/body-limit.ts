import { errorReply } from './errors.ts';
import { requestIdOf } from './request.ts';

type Fetch = (request: Request) => Response | Promise<Response>;

/**
 * Refuses request bodies over `max` bytes with our own 413 `{error:{code,message}}`. Bun's own
 * `maxRequestBodySize` answers with an empty 413, so the server is given a higher hard cap (see `hardCap`) and
 * this wrapper enforces the configured limit: from `content-length` without reading anything, or, for a chunked
 * body (no length given), by reading it up to the cap and handing the app a copy.
 */
export function bodyLimit(fetch: Fetch, max: number): Fetch {
  const tooLarge = (request: Request, size: number) => {
    const message = `The request body (${size} bytes) is over the limit of ${max} bytes (MAX_BODY_BYTES); send a smaller body or raise MAX_BODY_BYTES. Retrying the same body will not help.`;
    return errorReply(413, { error: { code: 'payload_too_large', message } }, { 'x-request-id': requestIdOf(request), connection: 'close' });
  };
  return (request) => {
    if (request.body === null) return fetch(request);
    const length = request.headers.get('content-length');
    if (length !== null) return Number(length) > max ? tooLarge(request, Number(length)) : fetch(request);
    return request.arrayBuffer().then((buf) =>
      buf.byteLength > max ? tooLarge(request, buf.byteLength) : fetch(new Request(request.url, { method: request.method, headers: request.headers, body: buf })),
    );
  };
}

/** Bun's own limit: above ours, so bodies a little over the limit get the JSON reply; far over, Bun cuts them off. */
export const hardCap = (max: number) => max * 2 + 1024;
