// Tests must never reach public hosts: fail fast if one tries (the fixture server is on 127.0.0.1).
const realFetch = globalThis.fetch;
const allowed = /^(127\.0\.0\.1|localhost|\[::1\])$/;
globalThis.fetch = Object.assign(
  (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!allowed.test(url.hostname)) return Promise.reject(new Error(`Test tried to reach ${url.host}; point it at a local fixture server.`));
    return realFetch(input, init);
  },
  realFetch,
);
