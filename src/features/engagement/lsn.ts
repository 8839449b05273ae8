/** Postgres WAL positions ("16/B374D848") as bigints, so they compare and subtract exactly. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`Not a WAL position: ${JSON.stringify(lsn)} (expected like 16/B374D848)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Decides which WAL position may be confirmed to Postgres. A transaction's position may be confirmed only
 * when Kafka has acknowledged its records and those of every transaction before it. When nothing is in
 * flight, the server's keepalive position can be confirmed too, so a slot whose tables are idle still moves
 * on with the rest of the WAL instead of pinning it.
 */
export class LsnTracker {
  private queued: bigint[] = [];
  private inFlight = 0;
  private openTxn = false;
  private confirmed = 0n;

  /** A transaction started arriving. */
  begin() {
    this.openTxn = true;
  }
  /** A transaction's commit arrived; its records are queued for Kafka. */
  committed(endLsn: bigint) {
    this.openTxn = false;
    this.queued.push(endLsn);
  }
  /** The first `count` queued transactions are being sent. */
  sending(count: number) {
    this.inFlight = count;
  }
  /** Kafka acknowledged the transactions being sent: their last position becomes confirmable. */
  sent() {
    const done = this.queued.splice(0, this.inFlight);
    this.inFlight = 0;
    const last = done.at(-1);
    if (last !== undefined && last > this.confirmed) this.confirmed = last;
  }
  /** The server says it has sent everything up to `lsn`. */
  keepalive(lsn: bigint) {
    if (this.idle && lsn > this.confirmed) this.confirmed = lsn;
  }
  get idle() {
    return !this.openTxn && this.queued.length === 0 && this.inFlight === 0;
  }
  get pendingTransactions() {
    return this.queued.length;
  }
  /** Highest position every change before which is in Kafka. */
  get confirmable(): bigint {
    return this.confirmed;
  }
}
