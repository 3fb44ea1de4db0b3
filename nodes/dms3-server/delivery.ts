// When has the flow finished with an event message? Node-RED's messaging hooks tell: every delivery
// of the message (or of a copy, which keeps its _msgid) to a node is counted on its way (preDeliver)
// and while the node handles it (onReceive … onComplete, i.e. until the node calls done()). The message
// is finished when nothing is on its way and no node is still handling it. A node that forwards the
// message counts again before it completes, so a chain (e.g. event → switch → dms3-mail) is followed
// to its end; dms3-mail completes an event only once its mail is in the durable outbox.
// Without hooks (the node test helper's runtime has none) a message is finished once it was sent.

interface HookEvent {
  msg?: { _msgid?: unknown };
}
export interface Hooks {
  add(name: string, fn: (event: HookEvent) => void): void;
  remove(name: string): void;
}

interface Tracked {
  routed: number; // deliveries on their way
  active: number; // nodes handling it
  sent: boolean;
  finished: () => void;
}

export class DeliveryTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly onTheWay = new WeakSet<object>();
  private readonly names: string[];

  constructor(
    private readonly hooks: Hooks | null,
    tag: string,
  ) {
    const safe = tag.replace(/[^A-Za-z0-9_-]/g, '_');
    this.names = ['preDeliver', 'onReceive', 'onComplete'].map((h) => `${h}.dms3-${safe}`);
    if (!hooks) return;
    hooks.add(this.names[0], (e) => {
      const t = this.of(e);
      if (!t || !e.msg) return;
      t.routed++;
      this.onTheWay.add(e.msg);
    });
    hooks.add(this.names[1], (e) => {
      const t = this.of(e);
      if (!t || !e.msg) return;
      // A link node hands a message on directly, without a routed delivery.
      if (this.onTheWay.delete(e.msg)) t.routed--;
      t.active++;
    });
    hooks.add(this.names[2], (e) => {
      const id = this.idOf(e);
      const t = id === null ? undefined : this.tracked.get(id);
      if (!t) return;
      t.active--;
      // Catch and Complete nodes get the message right after onComplete: look again once they had it.
      setImmediate(() => this.check(id!));
    });
  }

  get following(): number {
    return this.tracked.size;
  }

  private idOf(e: HookEvent): string | null {
    const id = e.msg?._msgid;
    return typeof id === 'string' ? id : null;
  }

  private of(e: HookEvent): Tracked | undefined {
    const id = this.idOf(e);
    return id === null ? undefined : this.tracked.get(id);
  }

  /** Follows the message with this _msgid; call sent() once every node has been given it. */
  follow(msgid: string, finished: () => void): { sent(): void } {
    const t: Tracked = { routed: 0, active: 0, sent: false, finished };
    this.tracked.set(msgid, t);
    return {
      sent: () => {
        t.sent = true;
        // Routed deliveries are asynchronous: if nothing was routed, nothing wanted the message.
        setImmediate(() => this.check(msgid));
      },
    };
  }

  private check(msgid: string): void {
    const t = this.tracked.get(msgid);
    if (!t || !t.sent || t.routed > 0 || t.active > 0) return;
    this.tracked.delete(msgid);
    t.finished();
  }

  close(): void {
    if (this.hooks) for (const name of this.names) this.hooks.remove(name);
    this.tracked.clear();
  }
}
