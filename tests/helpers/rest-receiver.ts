/**
 * A stand-in for the external REST system the REST sink posts to, under the test's control: it applies each
 * `idempotency_key` once (answering `created` or `duplicate` per event), records every receipt including
 * repeats, and can be told to fail a share of requests, refuse chosen events with 400, throttle with 429 +
 * Retry-After, hang, or go away (port closed) and come back on the same port.
 */
export type Receipt = { key: string; event: Record<string, unknown>; at: number };

export type ReceiverBehaviour = {
  /** Share of requests answered 503 (0..1). */
  failRate: number;
  /** Answer 400 to a batch holding such an event (the sink must split the batch to isolate it). */
  reject?: (event: Record<string, unknown>) => boolean;
  /** Answer 429 with this Retry-After (seconds) to the next `throttleTimes` requests. */
  throttle?: { retryAfterSeconds: number; times: number };
  /** Never answer (until the client gives up). */
  hang: boolean;
  /** Leave out the per-event results (a plain 200). */
  plain: boolean;
};

export type RestReceiver = {
  url: string;
  port: number;
  /** The first receipt of each key: the effect the external system keeps. */
  applied: Map<string, Receipt>;
  /** Every event received, repeats included. */
  receipts: Receipt[];
  requests: { status: number; keys: number; gzip: boolean; idempotencyKey: string | null; at: number }[];
  behaviour: ReceiverBehaviour;
  /** Closes the port (connections refused) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
};

export async function startRestReceiver(options: { port?: number; random?: () => number } = {}): Promise<RestReceiver> {
  const random = options.random ?? Math.random;
  const applied = new Map<string, Receipt>();
  const receipts: Receipt[] = [];
  const requests: RestReceiver['requests'] = [];
  const behaviour: ReceiverBehaviour = { failRate: 0, hang: false, plain: false };
  const hanging = new Set<() => void>();

  const handle = async (req: Request): Promise<Response> => {
    // Counts for a receiver running in another process (benchmarks).
    if (req.method === 'GET') return Response.json({ applied: applied.size, receipts: receipts.length, requests: requests.length });
    const gzip = req.headers.get('content-encoding') === 'gzip';
    const raw = new Uint8Array(await req.arrayBuffer());
    const text = new TextDecoder().decode(gzip ? Bun.gunzipSync(raw) : raw);
    const log = (status: number, keys: number) => requests.push({ status, keys, gzip, idempotencyKey: req.headers.get('idempotency-key'), at: Date.now() });
    if (behaviour.hang) {
      log(0, 0);
      return new Promise<Response>((resolve) => {
        const release = () => resolve(new Response('released', { status: 503 }));
        hanging.add(release);
      });
    }
    if (behaviour.throttle && behaviour.throttle.times > 0) {
      behaviour.throttle.times--;
      log(429, 0);
      return new Response('slow down', { status: 429, headers: { 'retry-after': String(behaviour.throttle.retryAfterSeconds) } });
    }
    if (random() < behaviour.failRate) {
      log(503, 0);
      return new Response('temporarily unavailable', { status: 503 });
    }
    let events: Record<string, unknown>[];
    try {
      events = (JSON.parse(text) as { events: Record<string, unknown>[] }).events;
      if (!Array.isArray(events)) throw new Error('no events array');
    } catch (e) {
      log(400, 0);
      return Response.json({ error: `bad body: ${(e as Error).message}` }, { status: 400 });
    }
    const refused = behaviour.reject ? events.filter(behaviour.reject) : [];
    if (refused.length) {
      log(400, events.length);
      return Response.json({ error: `events ${refused.map((e) => e.idempotency_key).join(', ')} are invalid` }, { status: 400 });
    }
    const at = Date.now();
    const results = events.map((event) => {
      const key = String(event.idempotency_key);
      const receipt = { key, event, at };
      receipts.push(receipt);
      if (applied.has(key)) return { idempotency_key: key, status: 'duplicate' };
      applied.set(key, receipt);
      return { idempotency_key: key, status: 'created' };
    });
    log(200, events.length);
    return behaviour.plain ? new Response(null, { status: 200 }) : Response.json({ results });
  };

  let server: ReturnType<typeof Bun.serve> | undefined;
  const listen = (port: number) => Bun.serve({ hostname: '127.0.0.1', port, fetch: handle });
  server = listen(options.port ?? 0);
  const port = server.port!;
  const receiver: RestReceiver = {
    url: `http://127.0.0.1:${port}/events`,
    port,
    applied,
    receipts,
    requests,
    behaviour,
    async down() {
      for (const release of hanging) release();
      hanging.clear();
      await server?.stop(true);
      server = undefined;
    },
    async up() {
      if (!server) server = listen(port);
    },
    async close() {
      await receiver.down();
    },
  };
  return receiver;
}
