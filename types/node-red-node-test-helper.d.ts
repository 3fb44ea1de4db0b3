declare module 'node-red-node-test-helper' {
  import type { Server } from 'node:http';
  interface TestNode {
    id: string;
    on(event: string, handler: (...args: any[]) => void): void;
    receive(msg: Record<string, unknown>): void;
    status: ((...args: any[]) => void) & { [k: string]: any };
    error: ((...args: any[]) => void) & { [k: string]: any };
    warn: ((...args: any[]) => void) & { [k: string]: any };
    [key: string]: any;
  }
  interface Helper {
    init(runtimePath: string, settings?: Record<string, unknown>): void;
    load(nodes: unknown, flow: unknown[], credentials?: Record<string, unknown>): Promise<void>;
    load(nodes: unknown, flow: unknown[], credentials: Record<string, unknown>, cb: () => void): void;
    unload(): Promise<void>;
    setFlows(flow: unknown[], type?: 'full' | 'flows' | 'nodes', credentials?: Record<string, unknown>): Promise<void>;
    getNode(id: string): TestNode;
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
    url(): string;
    settings(s: Record<string, unknown>): void;
    request(): any;
    _server: Server;
    _RED: any;
    _redNodes: any;
    log(): any;
  }
  const helper: Helper;
  export = helper;
}
