// The agent: takes states from the hub, applies them to Motion one at a time (the latest wins),
// reports applied/health/notices, and falls back to the server-lost action when the hub is away.
import { REASON_TEXT, type Surveillance } from '../lib/policy';
import type { AgentMessage, Health, MotionStatus, NoticeMessage, StateMessage } from '../lib/protocol';
import { ServerLost } from '../lib/server-lost';
import { AudioCue } from './audio';
import type { AgentConfig } from './config';
import { MediaCounter, systemHealth } from './health';
import { hubBase } from './hook-config';
import type { Logger } from './log';
import { createController } from './motion';
import { deliverSpool } from './spool';
import { contradicts, MotionError, type MotionController } from './motion/controller';
import type { Transport } from './transport/transport';

/** Notices kept while the hub is away (the oldest are dropped beyond this). */
const MAX_PENDING_NOTICES = 20;
const SPOOL_INTERVAL_MS = 60_000;

type Cause = 'hub' | 'server-lost' | 'drift';

interface Request {
  state: Surveillance;
  seq: number | null; // the hub's seq, null for the agent's own applies
  cause: Cause;
}

export interface AgentParts {
  config: AgentConfig;
  log: Logger;
  transport: Transport;
}

export class Agent {
  private applied: Surveillance | null = null; // last state applied successfully
  private target: Surveillance | null = null; // last state asked for (by the hub or the server-lost action)
  private motion: MotionStatus = 'unknown';
  private wanted: Request | null = null;
  private draining: Promise<void> | null = null;
  private readonly notices: NoticeMessage[] = [];
  private lastHealth = '';
  private readonly serverLost: ServerLost;
  private lostTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private reporting = false;
  private spoolTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly controller: MotionController;
  private readonly audio: AudioCue;
  private readonly media: MediaCounter;

  constructor(private readonly parts: AgentParts) {
    const { config, log } = parts;
    this.serverLost = new ServerLost(config.serverLost.after * 1000, config.serverLost.action, Date.now());
    this.controller = createController(config.motion, {
      log,
      notice: (event, text) => this.notice(event, text),
      changed: () => void this.refreshMotion(),
    });
    this.audio = new AudioCue(config.audio, log);
    this.media = new MediaCounter(config.mediaDir, log);
  }

  async start(): Promise<void> {
    const { transport, config, log } = this.parts;
    const { media, controller } = this;
    log.info(`dms3-agent ${systemHealth().agentVersion} "${config.name}": Motion ${config.motion.mode} mode, hub ${config.server}`);
    transport.on('up', () => this.onUp());
    transport.on('down', (reason) => this.onDown(reason));
    transport.on('state', (msg) => this.onState(msg));
    this.motion = await controller.status();
    await media.refresh();
    transport.connect();
    this.reportTimer = setInterval(() => void this.report(), config.reportInterval * 1000);
    this.spoolTimer = setInterval(() => void this.deliverSpool(), SPOOL_INTERVAL_MS);
    this.armLostTimer();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reportTimer) clearInterval(this.reportTimer);
    if (this.spoolTimer) clearInterval(this.spoolTimer);
    if (this.lostTimer) clearTimeout(this.lostTimer);
    // Both at once: the connection closes while Motion takes its ~5 s to exit.
    await Promise.all([this.parts.transport.close(), this.draining?.then(() => this.controller.close()) ?? this.controller.close()]);
    this.audio.close();
  }

  health(): Health {
    return {
      ...systemHealth(),
      motion: this.motion,
      events: this.media.value,
      applied: this.applied,
      reportInterval: this.parts.config.reportInterval,
    };
  }

  notice(event: NoticeMessage['event'], text: string): void {
    this.notices.push({ v: 1, type: 'notice', event, at: new Date().toISOString(), text: text.slice(0, 1024) });
    if (this.notices.length > MAX_PENDING_NOTICES) this.notices.shift();
    this.flushNotices();
  }

  private onUp(): void {
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
    const lostText = this.serverLost.connected(Date.now());
    void this.deliverSpool();
    this.send({ v: 1, type: 'hello', name: this.parts.config.name, health: this.health() });
    this.lastHealth = this.healthKey();
    if (lostText) this.notice('server-lost', lostText);
    this.flushNotices();
  }

  private onDown(reason: string): void {
    if (this.stopped) return;
    this.parts.log.warn(`connection to the hub lost: ${reason}`);
    this.serverLost.disconnected(Date.now());
    this.armLostTimer();
  }

  private onState(msg: StateMessage): void {
    this.parts.log.info(`hub: ${msg.state} (${REASON_TEXT[msg.reason]}, seq ${msg.seq}, since ${msg.since})`);
    this.request({ state: msg.state, seq: msg.seq, cause: 'hub' });
  }

  /** Events the hook spooled while the hub was away: delivered oldest first on each connection, then every minute. */
  private async deliverSpool(): Promise<void> {
    const { config, log } = this.parts;
    if (this.stopped || !config.token) return;
    let r;
    try {
      r = await deliverSpool({ base: hubBase(config.server), name: config.name, token: config.token, spool: config.spool }, (line) => log.info(line));
    } catch (err) {
      log.error(`spool ${config.spool.dir}: ${(err as Error).message}`);
      return;
    }
    if (r.delivered || r.dropped) log.info(`spool: ${r.delivered} event(s) delivered, ${r.dropped} dropped, ${r.remaining} waiting`);
    if (r.error) log.warn(`spool: delivery paused (${r.error}); ${r.remaining} event(s) waiting`);
  }

  private armLostTimer(): void {
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
    const due = this.serverLost.dueIn(Date.now());
    if (due === null || this.stopped) return;
    this.lostTimer = setTimeout(() => {
      this.lostTimer = null;
      const fired = this.serverLost.fire(Date.now(), this.applied);
      if (!fired) return this.armLostTimer();
      this.parts.log.warn(`server lost: ${fired.text}`);
      if (fired.apply) this.request({ state: fired.apply, seq: null, cause: 'server-lost' });
    }, due);
  }

  /** Queue a state; while one apply runs, only the latest request waits behind it. */
  private request(req: Request): void {
    this.target = req.state;
    this.wanted = req;
    this.draining ??= this.drain().finally(() => (this.draining = null));
  }

  private async drain(): Promise<void> {
    while (this.wanted && !this.stopped) {
      const req = this.wanted;
      this.wanted = null;
      await this.applyOne(req);
    }
  }

  private async applyOne({ state, seq, cause }: Request): Promise<void> {
    const { controller, audio } = this;
    const { log } = this.parts;
    const before = this.applied;
    let ok = true;
    let error: string | undefined;
    try {
      this.motion = await controller.apply(state);
      this.applied = state;
      log.info(`applied ${state}: Motion ${this.motion}`);
      if (before !== state) audio.play(state);
    } catch (err) {
      ok = false;
      error = (err as Error).message.slice(0, 1024);
      this.motion = err instanceof MotionError ? err.motion : await controller.status();
      log.error(`could not apply ${state}: ${error}`);
    }
    if (seq !== null) this.send({ v: 1, type: 'applied', seq, state, ok, motion: this.motion, ...(error ? { error } : {}) });
    if (cause === 'drift') {
      if (ok) this.notice('motion-restarted', `Motion did not match the state "${state}"; applied it again (Motion ${this.motion})`);
      else this.notice('motion-failed', `Motion did not match the state "${state}" and applying it again failed: ${error}`);
    }
    this.sendHealthIfChanged();
  }

  /** Every report interval: recount media, read Motion's status, put it right if it drifted, report. */
  private async report(): Promise<void> {
    if (this.reporting || this.stopped) return;
    this.reporting = true;
    try {
      await this.media.refresh();
      if (!this.draining) {
        this.motion = await this.controller.status();
        if (this.target && contradicts(this.target, this.motion)) {
          this.parts.log.warn(`Motion is ${this.motion} but the state is ${this.target}; applying it again`);
          this.request({ state: this.target, seq: null, cause: 'drift' });
        }
      }
      this.lastHealth = this.healthKey();
      this.send({ v: 1, type: 'health', health: this.health() });
    } catch (err) {
      this.parts.log.error(`health report failed: ${(err as Error).message}`);
    } finally {
      this.reporting = false;
    }
  }

  private async refreshMotion(): Promise<void> {
    try {
      this.motion = await this.controller.status();
      this.sendHealthIfChanged();
    } catch (err) {
      this.parts.log.error(`reading Motion's status failed: ${(err as Error).message}`);
    }
  }

  private healthKey(): string {
    return `${this.motion}|${this.applied}|${this.media.value}`;
  }

  private sendHealthIfChanged(): void {
    const key = this.healthKey();
    if (key === this.lastHealth || !this.parts.transport.connected) return;
    this.lastHealth = key;
    this.send({ v: 1, type: 'health', health: this.health() });
  }

  private flushNotices(): void {
    if (!this.parts.transport.connected) return;
    for (const n of this.notices.splice(0)) this.send(n);
  }

  private send(msg: AgentMessage): void {
    this.parts.transport.send(msg);
  }
}
