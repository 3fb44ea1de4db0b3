// Shared set-up for node tests: node-red-node-test-helper on the real Node-RED runtime.
import helper from 'node-red-node-test-helper';

// DMS3_NODE_RED_DIR points at another Node-RED install (e.g. Node-RED 5 under Node 22).
const redDir = process.env.DMS3_NODE_RED_DIR;
helper.init(require.resolve('node-red', redDir ? { paths: [redDir] } : undefined));

export { helper };

/** Resolve with the next message a helper node receives (or reject after `ms`). */
export function nextMessage<T = Record<string, any>>(node: { on(e: string, h: (m: T) => void): void }, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
    node.on('input', (msg: T) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** Collect every message a helper node receives. */
export function collect<T = Record<string, any>>(node: { on(e: string, h: (m: T) => void): void }): T[] {
  const seen: T[] = [];
  node.on('input', (msg: T) => seen.push(msg));
  return seen;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until `check` returns a truthy value, polling every 20 ms; fail after `ms`. */
export async function waitFor<T>(check: () => T | undefined | null | false, ms = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(20);
  }
}
