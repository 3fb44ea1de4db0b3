// A Server-Sent Events client over fetch for tests: collects events (and keep-alive comments) as they
// arrive, and waits for the one a test needs.
export interface SseEvent {
  event: string;
  data: any;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  ended = false;
  status = 0;
  private readonly abort = new AbortController();
  private readonly waiters: (() => void)[] = [];

  private constructor() {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const c = new SseClient();
    const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: c.abort.signal });
    c.status = res.status;
    if (res.status !== 200 || !res.body) {
      await res.text();
      c.ended = true;
      return c;
    }
    void c.read(res.body);
    return c;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        this.wake();
      }
    } catch {
      /* aborted by close() */
    }
    this.ended = true;
    this.wake();
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments++;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) this.events.push({ event, data: JSON.parse(data.join('\n')) });
  }

  /** Resolves with the first event (from `from` on) that `match` accepts. */
  next(match: (e: SseEvent) => boolean, ms = 5000, what = 'event', from = 0): Promise<SseEvent> {
    return this.until(() => this.events.slice(from).find(match), ms, what);
  }

  until<T>(check: () => T | undefined | null | false, ms = 5000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(this.events.map((e) => e.event))}`)), ms);
      const test = () => {
        const v = check();
        if (!v) return void this.waiters.push(test);
        clearTimeout(timer);
        resolve(v);
      };
      test();
    });
  }

  close(): void {
    this.abort.abort();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
