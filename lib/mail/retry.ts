// Delivery retries: exponential backoff, and which SMTP failures are worth retrying.

const MAX_DELAY_MS = 15 * 60 * 1000;

/** Delay before retry number `failures` (1 = after the first failure): first, 2×first, 4×first, … capped at 15 min. */
export function retryDelay(failures: number, firstMs: number): number {
  return Math.min(MAX_DELAY_MS, firstMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

/**
 * A 5xx reply to the envelope or message (unknown recipient, message too large, rejected content) will
 * be refused again: give that mail up. Everything else — server down, timeouts, 4xx, and also failed
 * authentication, which a corrected password fixes — is retried.
 */
export function isPermanent(err: { code?: unknown; responseCode?: unknown }): boolean {
  const code = typeof err.responseCode === 'number' ? err.responseCode : 0;
  return code >= 500 && code < 600 && (err.code === 'EENVELOPE' || err.code === 'EMESSAGE');
}
