import { seededRandom } from '../../platform/random.ts';

/**
 * Deterministic record generators for the three example jobs. The same options (seed included) always give the
 * same records in the same order, so a test can produce them to Kafka and recompute the expected results itself.
 *
 * Records are generated at a steady rate on a nominal clock. Each record's event time is its nominal time minus a
 * random disorder (up to `disorderMs`), so arrival order differs from event order; a `lateFraction` of records is
 * pushed further back (by up to `lateMs` more), past the watermark delay, to exercise late updates.
 */

export const SCENARIOS = ['ticks', 'sensors', 'requests'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export type GenerateOptions = {
  scenario: ScenarioName;
  seed: number;
  ratePerSec: number;
  durationMs: number;
  startMs: number;
  lateFraction?: number;
  disorderMs?: number;
  lateMs?: number;
  /** Number of symbols, devices or services (defaults: 20, 50, 8). */
  keys?: number;
};

export type GeneratedRecord = { key: string; value: Record<string, unknown>; eventTimeMs: number; nominalMs: number; late: boolean };


const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const pad = (i: number, n = 4) => String(i).padStart(n, '0');

const TICKERS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'META', 'NVDA', 'TSLA', 'JPM', 'V', 'MA', 'XOM', 'KO', 'PEP', 'DIS', 'NFLX', 'INTC', 'AMD', 'ORCL', 'IBM', 'CSCO'];
const SERVICES = ['api', 'auth', 'search', 'checkout', 'images', 'payments', 'catalog', 'profile'];
const SITES = ['paris', 'lyon', 'berlin', 'madrid', 'oslo'];
const ROUTES = ['/', '/v1/items', '/v1/items/:id', '/v1/cart', '/v1/login', '/v1/search'];

type Maker = (rand: () => number, eventTimeMs: number) => { key: string; value: Record<string, unknown> };

function ticks(rand: () => number, keys: number): Maker {
  const symbols = Array.from({ length: keys }, (_, i) => TICKERS[i] ?? `SYM${pad(i)}`);
  const prices = symbols.map(() => round(20 + rand() * 480, 2));
  return (r, t) => {
    const i = Math.floor(r() * symbols.length);
    prices[i] = Math.max(0.01, round(prices[i]! * Math.exp(gaussian(r) * 0.0008), 2));
    return { key: symbols[i]!, value: { ts: new Date(t).toISOString(), symbol: symbols[i], price: prices[i], size: 1 + Math.floor(r() ** 3 * 1000) } };
  };
}

function sensors(rand: () => number, keys: number): Maker {
  const devices = Array.from({ length: keys }, (_, i) => ({
    id: `dev-${pad(i + 1)}`,
    site: SITES[i % SITES.length]!,
    // A few devices run hot, so the overheating alert has something to find.
    base: i % 17 === 3 ? 33 : 18 + (i % 7),
    phase: rand() * 2 * Math.PI,
    hygrometer: i % 4 !== 0,
  }));
  return (r, t) => {
    const d = devices[Math.floor(r() * devices.length)]!;
    // A rare glitch reading the job's filter is meant to drop.
    const glitch = r() < 0.001;
    const temperature = glitch ? -273.15 : round(d.base + Math.sin((t / 600_000) * 2 * Math.PI + d.phase) * 2 + gaussian(r) * 0.5, 2);
    const value: Record<string, unknown> = { ts: new Date(t).toISOString(), device: d.id, site: d.site, temperature };
    if (d.hygrometer) value.humidity = round(45 + gaussian(r) * 5, 1);
    return { key: d.id, value };
  };
}

function requests(_rand: () => number, keys: number): Maker {
  const services = Array.from({ length: keys }, (_, i) => SERVICES[i] ?? `svc-${pad(i)}`);
  // Median latency and 5xx rate per service: checkout fails often, search is slow.
  const profile = services.map((s, i) => ({ median: s === 'search' ? 220 : 25 + (i % 5) * 15, errors: s === 'checkout' ? 0.08 : 0.005 + (i % 3) * 0.005 }));
  return (r, t) => {
    const i = Math.floor(r() * services.length);
    const p = profile[i]!;
    const u = r();
    const status = u < p.errors ? (r() < 0.7 ? 500 : 503) : u < p.errors + 0.02 ? 404 : 200;
    const latency = round(p.median * Math.exp(gaussian(r) * 0.6) * (status >= 500 ? 3 : 1), 1);
    return {
      key: services[i]!,
      value: { ts: new Date(t).toISOString(), service: services[i], route: ROUTES[Math.floor(r() * ROUTES.length)], status, latency_ms: latency, user: `user-${Math.floor(r() ** 2 * 5000)}` },
    };
  };
}

const DEFAULT_KEYS: Record<ScenarioName, number> = { ticks: 20, sensors: 50, requests: 8 };

export function recordCount(options: Pick<GenerateOptions, 'ratePerSec' | 'durationMs'>) {
  return Math.floor((options.ratePerSec * options.durationMs) / 1000);
}

/** Yields records in send order (nominal time), each with its (possibly earlier) event time. */
export function* generate(options: GenerateOptions): Generator<GeneratedRecord> {
  const rand = seededRandom(options.seed);
  const keys = options.keys ?? DEFAULT_KEYS[options.scenario];
  const make = { ticks, sensors, requests }[options.scenario](rand, keys);
  const { lateFraction = 0, disorderMs = 0, lateMs = 20_000 } = options;
  const total = recordCount(options);
  const step = 1000 / options.ratePerSec;
  for (let i = 0; i < total; i++) {
    const nominalMs = Math.floor(options.startMs + i * step);
    const late = lateFraction > 0 && rand() < lateFraction;
    const eventTimeMs = Math.floor(nominalMs - rand() * disorderMs - (late ? rand() * lateMs : 0));
    yield { ...make(rand, eventTimeMs), eventTimeMs, nominalMs, late };
  }
}
