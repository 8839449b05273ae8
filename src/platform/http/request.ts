/**
 * Request ids are made only when something needs one (an error reply, a debug access line): the client's own
 * `x-request-id` when it sent a sane one, else a per-process prefix and a counter — unique, cheap, sortable.
 */
const ids = new WeakMap<Request, string>();
const boot = Math.floor(Date.now() / 1000).toString(36);
let seq = 0;
const validId = /^[\w.:-]{1,128}$/;

export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (!id) {
    const given = request.headers.get('x-request-id');
    id = given && validId.test(given) ? given : `${boot}-${(++seq).toString(36)}`;
    ids.set(request, id);
  }
  return id;
}
