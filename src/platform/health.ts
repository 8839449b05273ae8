import { errorMessage } from './errors.ts';

export type ComponentStatus = 'ok' | 'down' | 'disabled';
export type ComponentReport = { status: ComponentStatus; reason?: string; [detail: string]: unknown };

export type HealthCheck = {
  name: string;
  /** Resolves with optional details when healthy, throws when down. Absent = component disabled. */
  check?: () => Promise<Record<string, unknown> | void>;
  /** Why a disabled component is off, shown to the user (e.g. which variable turns it on). */
  disabledReason?: string;
};

export type HealthReport = {
  status: 'ok' | 'down';
  components: Record<string, ComponentStatus>;
  details: Record<string, ComponentReport>;
  workers: Record<string, unknown>;
};

export type HealthSnapshot = { at: number; report: HealthReport; body: string };

/**
 * Collects component checks. Answers come from a snapshot at most `cacheMs` old, so a load balancer probing
 * /health many times a second costs no database round trips, and a hung dependency cannot pile up probes:
 * while a snapshot is fresh it is returned synchronously.
 */
export class Health {
  private checks = new Map<string, HealthCheck>();
  private snapshot?: HealthSnapshot;
  private inflight?: Promise<HealthSnapshot>;
  workers: () => Record<string, unknown> = () => ({});

  constructor(private options: { timeoutMs?: number; cacheMs?: number; now?: () => number } = {}) {}

  register(check: HealthCheck) {
    this.checks.set(check.name, check);
    this.snapshot = undefined;
  }

  current(): HealthSnapshot | Promise<HealthSnapshot> {
    const now = (this.options.now ?? Date.now)();
    const s = this.snapshot;
    if (s && now - s.at < (this.options.cacheMs ?? 1000)) return s;
    return this.refresh();
  }

  async report(): Promise<HealthReport> {
    return (await this.current()).report;
  }

  /** Runs every check now (one run at a time; concurrent callers share it). */
  refresh(): Promise<HealthSnapshot> {
    return (this.inflight ??= this.compute()
      .then((report) => (this.snapshot = { at: (this.options.now ?? Date.now)(), report, body: JSON.stringify(report) }))
      .finally(() => (this.inflight = undefined)));
  }

  private async compute(): Promise<HealthReport> {
    const timeoutMs = this.options.timeoutMs ?? 2000;
    const entries = await Promise.all(
      [...this.checks.values()].map(async (c): Promise<[string, ComponentReport]> => {
        if (!c.check) return [c.name, { status: 'disabled', reason: c.disabledReason }];
        let timer: Timer | undefined;
        try {
          const details = await Promise.race([
            c.check(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
          return [c.name, { status: 'ok', ...(details ?? {}) }];
        } catch (error) {
          return [c.name, { status: 'down', reason: errorMessage(error) }];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const details = Object.fromEntries(entries);
    const components = Object.fromEntries(entries.map(([n, r]) => [n, r.status]));
    const status = entries.some(([, r]) => r.status === 'down') ? 'down' : 'ok';
    return { status, components, details, workers: this.workers() };
  }
}
