/**
 * Per-request facts kept beside the Request object (a WeakMap, so nothing leaks): the request id and the start
 * time. Ids are a per-process prefix and a counter — unique, cheap, and sortable in logs.
 */
const ids = new WeakMap<Request, string>();
const starts = new WeakMap<Request, number>();
const boot = Math.floor(Date.now() / 1000).toString(36);
let seq = 0;

const validId = /^[\w.:-]{1,128}$/;

export function beginRequest(request: Request): string {
  const given = request.headers.get('x-request-id');
  const id = given && validId.test(given) ? given : `${boot}-${(++seq).toString(36)}`;
  ids.set(request, id);
  starts.set(request, performance.now());
  return id;
}

export const requestIdOf = (request: Request) => ids.get(request) ?? 'unknown';
export const requestStartOf = (request: Request) => starts.get(request);
