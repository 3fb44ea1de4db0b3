import { hostname } from 'node:os';

/** The agent's default name: the host name, cut to what a protocol name allows (first label, 64 characters). */
export function defaultName(): string {
  return (hostname().split('.')[0].replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'agent').slice(0, 64);
}
