// How many event uploads the hub reads at once, and how many bytes: a declared body is reserved whole
// when it is let in (so uploads are refused before their bodies are read, not halfway), a chunked one
// is counted as it comes. Refusals say when to try again; the hook spools meanwhile.

/** How much the endpoint reads at once, and how slowly: a stalled or crawling upload is cut (408). */
export interface UploadBounds {
  total: number; // uploads being read at once, all agents
  perAgent: number;
  bytesInFlight: number; // bytes of the uploads being read
  idleMs: number; // the longest pause between two chunks
  minBytesPerSec: number; // after a first IDLE period, on average
}
export const DEFAULT_UPLOAD_BOUNDS: UploadBounds = { total: 16, perAgent: 4, bytesInFlight: 64 * 1024 * 1024, idleMs: 10_000, minBytesPerSec: 64 * 1024 };

/** A refusal: the status to answer, and its reason. */
export class GateClosed extends Error {
  constructor(
    readonly status: 429 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** An upload let in: count() the chunks of an undeclared body (throws GateClosed over the bound), then release(). */
export interface Pass {
  count(bytes: number): void;
  release(): void;
}

export class UploadGate {
  private readonly perAgent = new Map<string, number>();
  private total = 0;
  private bytes = 0;

  constructor(readonly bounds: UploadBounds = DEFAULT_UPLOAD_BOUNDS) {}

  /** Uploads being read now, and their bytes (reserved or counted). */
  get receiving(): { uploads: number; bytes: number } {
    return { uploads: this.total, bytes: this.bytes };
  }

  /** Lets an upload of `agent` in, with its declared size if any; throws GateClosed when it must wait. */
  enter(agent: string, declared: number | undefined): Pass {
    const b = this.bounds;
    if (this.total >= b.total) throw new GateClosed(503, `the hub is receiving ${b.total} uploads already: try again`);
    if ((this.perAgent.get(agent) ?? 0) >= b.perAgent) throw new GateClosed(429, `agent ${JSON.stringify(agent)} is sending ${b.perAgent} uploads already: try again`);
    if (declared !== undefined) this.reserve(declared);
    this.total++;
    this.perAgent.set(agent, (this.perAgent.get(agent) ?? 0) + 1);
    let held = declared ?? 0;
    let released = false;
    return {
      count: (n) => {
        if (declared !== undefined) return;
        this.reserve(n);
        held += n;
      },
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perAgent.get(agent) ?? 1) - 1;
        if (left > 0) this.perAgent.set(agent, left);
        else this.perAgent.delete(agent);
        this.bytes -= held;
      },
    };
  }

  private reserve(n: number): void {
    if (this.bytes + n > this.bounds.bytesInFlight) throw new GateClosed(503, `the hub is receiving ${Math.round(this.bytes / 1048576)} MB already: try again`);
    this.bytes += n;
  }
}
