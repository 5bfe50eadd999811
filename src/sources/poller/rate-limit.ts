/**
 * A token bucket (pure over an injected clock): `ratePerSecond` tokens refill continuously up to
 * `burst`; each request takes one. `reserve()` takes a token now and returns how long the caller
 * must wait before using it, so concurrent callers queue in order without a timer per request.
 * `pauseUntil()` holds every request until a time (a server's Retry-After).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private pausedUntil = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes one token; resolves to the milliseconds to wait before the request may go. */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    this.tokens -= 1;
    const refillWait = this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerSecond;
    return Math.max(refillWait, this.pausedUntil - now);
  }

  /** No request goes before `time` (ms since the epoch, on the bucket's clock). */
  pauseUntil(time: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, time);
  }
}

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or
 * unreadable. Never negative.
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
