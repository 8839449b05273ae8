import { systemClock, type Clock } from '../clock.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker after Nygard's: `closed` lets calls through and counts consecutive failures; at
 * `failureThreshold` it opens, and calls are refused without being tried for `cooldownMs`; then one probe call
 * is let through (`half-open`): its success closes the circuit, its failure opens it for another cooldown.
 */
export class CircuitBreaker {
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  private current: BreakerState = 'closed';

  constructor(
    private options: {
      failureThreshold: number;
      cooldownMs: number;
      clock?: Clock;
      onChange?: (state: BreakerState) => void;
    },
  ) {
    if (!(options.failureThreshold >= 1)) throw new Error(`failureThreshold must be at least 1 (got ${options.failureThreshold})`);
    if (!(options.cooldownMs > 0)) throw new Error(`cooldownMs must be positive (got ${options.cooldownMs})`);
  }

  private get now() {
    return (this.options.clock ?? systemClock).now();
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Milliseconds until a probe may go out (0 when calls may go now). */
  retryInMs(): number {
    if (this.current !== 'open') return 0;
    return Math.max(0, this.openedAt + this.options.cooldownMs - this.now);
  }

  /** Whether a call may go out now. In half-open only one probe is out at a time; the caller must report its result. */
  tryAcquire(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.retryInMs() > 0) return false;
      this.set('half-open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success() {
    this.consecutive = 0;
    this.probing = false;
    if (this.current !== 'closed') this.set('closed');
  }

  failure() {
    this.consecutive++;
    const probeFailed = this.current === 'half-open' && this.probing;
    this.probing = false;
    if (probeFailed || (this.current === 'closed' && this.consecutive >= this.options.failureThreshold)) {
      this.openedAt = this.now;
      this.set('open');
    }
  }

  private set(state: BreakerState) {
    this.current = state;
    this.options.onChange?.(state);
  }
}
