// Which Motion messages become mails, and when. Pure: the caller passes the clock (`now`, ms) to every
// call and runs a timer for nextDue().
//
// - One mail per Motion event (agent + camera + eventId): its pictures are gathered until `quietMs`
//   after the last one (at most `maxWaitMs` after the first); the mail shows the picture with the most
//   changed pixels and attaches up to `extraPictures` more.
// - A movie ends its event: while the pictures are still being gathered the clip joins that mail,
//   which leaves at once; after the event's mail has left, the clip follows in a mail of its own
//   ("follow-up"); a movie without pictures is an event mail of its own. With movies off, clips are ignored.
// - Time filter: an event outside its rule's windows (by the event's own time) is not mailed.
// - Cooldown per camera: after a camera's mail has left, its new events are counted, not mailed, for
//   `cooldownMs`; the count appears in that camera's next mail.
// - Daily cap: at most `dailyCap` mails per local calendar day; further events are counted and the
//   first refusal of the day is flagged (capReached) so the caller can log it once.
// - Restart: restore() takes the mails an earlier run sent (from the caller's journal), so the cooldown,
//   the day's count and the events already mailed hold across a restart.
import type { MotionEvent } from '../event';
import { mailAllowed, type Rule } from './rules';

export interface AggregateOptions {
  quietMs: number;
  maxWaitMs: number;
  extraPictures: number;
  movies: boolean;
  cooldownMs: number;
  dailyCap: number;
  rules: readonly Rule[];
}

export interface MailJob {
  kind: 'event' | 'clip'; // clip = follow-up with the movie of an event already mailed
  key: string;
  first: MotionEvent; // the event's earliest message: its time is the event's time
  best: MotionEvent | null; // the picture with the most changed pixels (shown inline)
  extras: MotionEvent[]; // further pictures to attach, in time order
  clip: MotionEvent | null;
  pictures: number; // pictures seen in the event
  suppressed: number; // this camera's events skipped by the cooldown since its previous mail
  capped: number; // mails refused by the daily cap since the previous mail
  ids: string[]; // the ids of the messages this mail carries (those offered with one)
}

/** A mail an earlier run sent, as restore() takes it. */
export interface MailedBefore {
  at: number; // ms, when it left the aggregator
  key: string; // eventKey() of its event
  agent: string;
  camera: string;
}

export type Outcome =
  | 'opened' // first message of an event: its mail is being gathered
  | 'joined' // a further picture of an event being gathered
  | 'released' // a movie ended the event and its mail leaves now
  | 'follow-up' // a movie of an event already mailed: clip mail
  | 'late' // a picture of an event whose mail has already left
  | 'filtered' // outside the time filter
  | 'cooldown' // camera in cooldown (counted for its next mail)
  | 'capped' // daily cap reached
  | 'ignored'; // a movie while movies are off

export interface Offer {
  outcome: Outcome;
  mails: MailJob[]; // mails to send now
  capReached: boolean; // true on the first refusal by the cap on this day
}

export interface Counters {
  gathering: number;
  day: string;
  mailsToday: number;
  capReached: boolean; // today's mails have reached the cap
  filtered: number;
  suppressed: number;
  capped: number;
}

interface Batch {
  first: MotionEvent;
  top: MotionEvent[]; // best first; at most 1 + extraPictures kept in memory
  pictures: number;
  firstAt: number;
  lastAt: number;
  clip: MotionEvent | null;
  ids: string[];
}

type Status = 'mailed' | 'filtered' | 'cooldown' | 'capped';
type EventState = { status: 'gathering'; batch: Batch; touched: number } | { status: Status; touched: number };

interface Camera {
  gathering: number; // events of this camera being gathered
  lastMailAt: number | null;
  suppressed: number;
}

// How long an event's fate is remembered, so its late pictures and its movie find it.
const RETAIN_MS = 6 * 3600 * 1000;

export function eventKey(ev: Pick<MotionEvent, 'agent' | 'camera' | 'eventId'>): string {
  return JSON.stringify([ev.agent, ev.camera, ev.eventId]);
}

export function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function pixelsOf(ev: MotionEvent): number {
  return typeof ev.pixels === 'number' ? ev.pixels : -1;
}

export class Aggregator {
  private readonly events = new Map<string, EventState>();
  private readonly cameras = new Map<string, Camera>();
  private day = '';
  private mailsToday = 0;
  private capNoted = false;
  private cappedSinceMail = 0;
  private totals = { filtered: 0, suppressed: 0, capped: 0 };

  constructor(private readonly opts: AggregateOptions) {}

  /** Takes in the mails of an earlier run: their events count as mailed, their cameras cool down, today's count the cap. */
  restore(mails: readonly MailedBefore[], now: number): void {
    this.day = localDay(now);
    for (const m of mails) {
      if (now - m.at <= RETAIN_MS) this.events.set(m.key, { status: 'mailed', touched: m.at });
      const cam = this.camera(m);
      cam.lastMailAt = Math.max(cam.lastMailAt ?? m.at, m.at);
      if (localDay(m.at) === this.day) this.mailsToday++;
    }
  }

  /** `id` names the message (e.g. the hub's event id): the mail that carries it lists it in `ids`. */
  offer(ev: MotionEvent, now: number, id?: string): Offer {
    this.prune(now);
    const key = eventKey(ev);
    const state = this.events.get(key);
    if (ev.kind === 'movie') return this.offerMovie(ev, key, state, now, id);
    if (state?.status === 'gathering') {
      this.add(state.batch, ev, now, id);
      state.touched = now;
      return { outcome: 'joined', mails: [], capReached: false };
    }
    if (state) {
      state.touched = now;
      return { outcome: state.status === 'mailed' ? 'late' : state.status, mails: [], capReached: false };
    }
    return this.open(ev, key, now, id);
  }

  private offerMovie(ev: MotionEvent, key: string, state: EventState | undefined, now: number, id: string | undefined): Offer {
    if (state?.status === 'gathering') {
      if (this.opts.movies) {
        state.batch.clip = ev;
        if (id !== undefined) state.batch.ids.push(id);
      }
      // The movie ends the event either way: no more pictures will come.
      return { outcome: this.opts.movies ? 'released' : 'ignored', mails: [this.release(key, state.batch, now)], capReached: false };
    }
    if (!this.opts.movies) return { outcome: 'ignored', mails: [], capReached: false };
    if (state?.status === 'mailed') {
      state.touched = now;
      const capReached = this.capRefuses(now);
      if (capReached !== null) return { outcome: 'capped', mails: [], capReached };
      const job: MailJob = { kind: 'clip', key, first: ev, best: null, extras: [], clip: ev, pictures: 0, suppressed: 0, capped: 0, ids: id === undefined ? [] : [id] };
      return { outcome: 'follow-up', mails: [job], capReached: false };
    }
    if (state) {
      state.touched = now;
      return { outcome: state.status, mails: [], capReached: false };
    }
    const opened = this.open(ev, key, now, id);
    if (opened.outcome !== 'opened') return opened;
    const s = this.events.get(key) as { batch: Batch };
    return { outcome: 'released', mails: [this.release(key, s.batch, now)], capReached: false };
  }

  private open(ev: MotionEvent, key: string, now: number, id: string | undefined): Offer {
    if (!mailAllowed(this.opts.rules, ev.agent, ev.camera, new Date(ev.time))) {
      this.totals.filtered++;
      this.events.set(key, { status: 'filtered', touched: now });
      return { outcome: 'filtered', mails: [], capReached: false };
    }
    const cam = this.camera(ev);
    const cooling = this.opts.cooldownMs > 0 && (cam.gathering > 0 || (cam.lastMailAt !== null && now - cam.lastMailAt < this.opts.cooldownMs));
    if (cooling) {
      cam.suppressed++;
      this.totals.suppressed++;
      this.events.set(key, { status: 'cooldown', touched: now });
      return { outcome: 'cooldown', mails: [], capReached: false };
    }
    const capReached = this.capRefuses(now);
    if (capReached !== null) {
      this.events.set(key, { status: 'capped', touched: now });
      return { outcome: 'capped', mails: [], capReached };
    }
    cam.gathering++;
    const batch: Batch = { first: ev, top: [], pictures: 0, firstAt: now, lastAt: now, clip: null, ids: [] };
    if (ev.kind === 'picture') this.add(batch, ev, now, id);
    else if (id !== undefined) batch.ids.push(id);
    this.events.set(key, { status: 'gathering', batch, touched: now });
    return { outcome: 'opened', mails: [], capReached: false };
  }

  private add(batch: Batch, ev: MotionEvent, now: number, id: string | undefined): void {
    if (id !== undefined) batch.ids.push(id);
    batch.pictures++;
    batch.lastAt = now;
    batch.top.push(ev);
    // Stable sort: on equal pixels the earlier picture stays ahead.
    batch.top.sort((a, b) => pixelsOf(b) - pixelsOf(a));
    batch.top.length = Math.min(batch.top.length, 1 + this.opts.extraPictures);
  }

  /** Counts a mail against today's cap; returns null when allowed, else whether this is the day's first refusal. */
  private capRefuses(now: number): boolean | null {
    const day = localDay(now);
    if (day !== this.day) {
      this.day = day;
      this.mailsToday = 0;
      this.capNoted = false;
    }
    if (this.opts.dailyCap > 0 && this.mailsToday >= this.opts.dailyCap) {
      this.cappedSinceMail++;
      this.totals.capped++;
      const first = !this.capNoted;
      this.capNoted = true;
      return first;
    }
    this.mailsToday++;
    return null;
  }

  private camera(ev: Pick<MotionEvent, 'agent' | 'camera'>): Camera {
    const k = JSON.stringify([ev.agent, ev.camera]);
    let cam = this.cameras.get(k);
    if (!cam) {
      cam = { gathering: 0, lastMailAt: null, suppressed: 0 };
      this.cameras.set(k, cam);
    }
    return cam;
  }

  private release(key: string, batch: Batch, now: number): MailJob {
    this.events.set(key, { status: 'mailed', touched: now });
    const cam = this.camera(batch.first);
    cam.gathering--;
    cam.lastMailAt = now;
    const job: MailJob = {
      kind: 'event',
      key,
      first: batch.first,
      best: batch.top[0] ?? null,
      extras: batch.top.slice(1).sort((a, b) => Date.parse(a.time) - Date.parse(b.time)),
      clip: batch.clip,
      pictures: batch.pictures,
      suppressed: cam.suppressed,
      capped: this.cappedSinceMail,
      ids: batch.ids,
    };
    cam.suppressed = 0;
    this.cappedSinceMail = 0;
    return job;
  }

  private deadline(b: Batch): number {
    return Math.min(b.lastAt + this.opts.quietMs, b.firstAt + this.opts.maxWaitMs);
  }

  /** Mails whose gathering time is over at `now`, oldest event first. */
  due(now: number): MailJob[] {
    this.prune(now);
    const ready = [...this.events].filter(([, s]) => s.status === 'gathering' && this.deadline(s.batch) <= now) as [string, { batch: Batch }][];
    ready.sort((a, b) => a[1].batch.firstAt - b[1].batch.firstAt);
    return ready.map(([key, s]) => this.release(key, s.batch, now));
  }

  /** When due() next has something to release, or null when nothing is being gathered. */
  nextDue(): number | null {
    let next: number | null = null;
    for (const s of this.events.values()) {
      if (s.status === 'gathering') next = Math.min(next ?? Infinity, this.deadline(s.batch));
    }
    return next;
  }

  /** Release everything being gathered (on shutdown, so the outbox keeps it). */
  flush(now: number): MailJob[] {
    const open = [...this.events].filter(([, s]) => s.status === 'gathering') as [string, { batch: Batch }][];
    return open.map(([key, s]) => this.release(key, s.batch, now));
  }

  counters(now: number): Counters {
    const today = localDay(now) === this.day;
    let gathering = 0;
    for (const s of this.events.values()) if (s.status === 'gathering') gathering++;
    return {
      gathering,
      day: localDay(now),
      mailsToday: today ? this.mailsToday : 0,
      capReached: today && this.opts.dailyCap > 0 && this.mailsToday >= this.opts.dailyCap,
      ...this.totals,
    };
  }

  private prune(now: number): void {
    for (const [key, s] of this.events) {
      if (s.status !== 'gathering' && now - s.touched > RETAIN_MS) this.events.delete(key);
    }
  }
}
