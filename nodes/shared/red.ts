// The small part of Node-RED's runtime API that our nodes use. @types/node-red describes the 1.x API,
// so we keep our own typing of what 4.x and 5.x provide.
import type { Express } from 'express';
import type { Server } from 'node:http';

export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export type Send = (msg: NodeMessage | null | (NodeMessage | NodeMessage[] | null)[]) => void;
export type Done = (err?: Error) => void;

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface ContextStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

export interface Node {
  id: string;
  type: string;
  name?: string;
  z?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', handler: (msg: NodeMessage, send: Send, done: Done) => void | Promise<void>): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void | Promise<void>): void;
  send(msg: NodeMessage | null | (NodeMessage | NodeMessage[] | null)[]): void;
  status(status: NodeStatus | Record<string, never>): void;
  log(msg: unknown): void;
  warn(msg: unknown): void;
  error(msg: unknown, sourceMsg?: NodeMessage): void;
  debug(msg: unknown): void;
  context(): { get(key: string): unknown; set(key: string, value: unknown): void; global: ContextStore; flow: ContextStore };
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [key: string]: unknown;
}

export interface NodeAPI {
  nodes: {
    createNode(node: Node, def: NodeDef): void;
    registerType(type: string, ctor: (this: Node, def: NodeDef) => void, opts?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: Record<string, { value: unknown; exportable?: boolean }> }): void;
    getNode(id: string): Node | null;
    eachNode(cb: (def: NodeDef) => void): void;
  };
  httpAdmin: Express;
  httpNode: Express;
  server: Server;
  settings: Record<string, unknown> & { userDir?: string; httpNodeRoot?: string };
  log: { info(m: unknown): void; warn(m: unknown): void; error(m: unknown): void; debug(m: unknown): void };
  util: { cloneMessage<T>(msg: T): T; generateId(): string };
  version(): string;
  _(key: string, subs?: Record<string, unknown>): string;
}
