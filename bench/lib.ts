/**
 * Shared shape of benchmark results. Every bench module exports `run(options)` returning results; the runner
 * prints them as one table with the reference each figure is compared to. Figures are printed, never asserted.
 */
export type BenchResult = {
  name: string;
  value: number;
  unit: string;
  /** What the figure is compared to, measured in the same run where possible. */
  reference?: { name: string; value: number };
  /** Target ratio or figure from the issue, for the reader. */
  target?: string;
  notes?: string;
  /** true when higher is better (throughput), false for latency/bytes; decides how the ratio reads. */
  higherIsBetter?: boolean;
};

export type BenchModule = {
  name: string;
  description: string;
  run(options: { quick: boolean; log: (msg: string) => void }): Promise<BenchResult[]>;
};

export function ratio(r: BenchResult): number | undefined {
  return r.reference ? r.value / r.reference.value : undefined;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/** Peak resident set size of this process so far, in MB (Linux: VmHWM). */
export async function peakRssMb(pid: number | 'self' = 'self'): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1024 / 1024;
}

/** Runs `wrk` against a URL and returns requests/s and latency percentiles, or undefined if wrk is missing. */
export async function wrk(url: string, options: { connections?: number; threads?: number; durationS?: number } = {}) {
  const { connections = 50, threads = 1, durationS = 5 } = options;
  if (!Bun.which('wrk')) return undefined;
  const proc = Bun.spawn(['wrk', `-t${threads}`, `-c${connections}`, `-d${durationS}s`, '--latency', url], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const toMs = (v: string, u: string) => Number(v) * (u === 'us' ? 0.001 : u === 's' ? 1000 : 1);
  const pct = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1];
  return { rps, p50Ms: pct('50'), p99Ms: pct('99'), non2xx: Number(errors ?? 0), raw: out };
}

export async function waitUp(url: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}

export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}
