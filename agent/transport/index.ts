import type { AgentConfig } from '../config';
import type { Logger } from '../log';
import { PollingTransport } from './polling';
import type { Transport } from './transport';
import { WebSocketTransport } from './websocket';

export function createTransport(cfg: AgentConfig, token: string, log: Logger): Transport {
  const maxBackoffMs = cfg.reconnectMaxBackoff * 1000;
  if (cfg.transport === 'websocket') return new WebSocketTransport({ url: cfg.server, token, maxBackoffMs, log });
  return new PollingTransport({ base: cfg.server, token, name: cfg.name, intervalMs: cfg.pollInterval * 1000, maxBackoffMs, log });
}
