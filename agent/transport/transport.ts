// How an agent talks to the hub, whatever the wire (WebSocket, HTTP polling; MQTT later).
// A transport keeps itself connected (retrying with backoff) until close(); it says "up" when the
// hub accepted it (the agent then sends hello), "down" when that connection is lost, and passes on
// each state message. send() is best-effort: what cannot be sent now is dropped (the next hello
// carries the current health).
import type { EventEmitter } from 'node:events';
import type { AgentMessage, StateMessage } from '../../lib/protocol';

export interface TransportEvents {
  up: [];
  down: [reason: string];
  state: [message: StateMessage];
}

export interface Transport extends EventEmitter<TransportEvents> {
  readonly connected: boolean;
  connect(): void;
  send(message: AgentMessage): void;
  close(): Promise<void>;
}

/** Retry text for the log, e.g. "retrying in 3.2 s". */
export function retryText(ms: number): string {
  return `retrying in ${(ms / 1000).toFixed(1)} s`;
}

export function unauthorizedText(url: string): string {
  return `the hub refused the token (HTTP 401 Unauthorized) at ${url}: check DMS3_TOKEN, token or token_file against the hub's agent token`;
}
