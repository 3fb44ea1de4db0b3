// "webcontrol" mode: Motion runs as its own service; the agent resumes or pauses detection through
// Motion's local webcontrol (plain-text interface, webcontrol_interface 1) and reads the status back.
// Motion answers errors with HTTP 200 and a "Bad Request" body, so the body is always checked.
import { setTimeout as delay } from 'node:timers/promises';
import type { Surveillance } from '../../lib/policy';
import type { MotionStatus } from '../../lib/protocol';
import { readCapped } from '../http-body';
import { MotionError, type ControllerHooks, type MotionController } from './controller';

export interface WebcontrolConfig {
  url: string; // e.g. http://127.0.0.1:8080 (no trailing slash)
  cameras: number[]; // [0] = all cameras
  user?: string;
  password?: string;
  timeout: number; // seconds per request
}

type Detection = 'ACTIVE' | 'PAUSE';

/** Parses "Camera 0 Detection status ACTIVE" (one line per camera); null when nothing matches. */
export function parseDetectionStatus(body: string): Detection[] | null {
  const found = [...body.matchAll(/Detection status\s+(ACTIVE|PAUSE)/g)].map((m) => m[1] as Detection);
  return found.length ? found : null;
}

export class WebcontrolController implements MotionController {
  private readonly headers: Record<string, string> = {};

  constructor(
    private readonly cfg: WebcontrolConfig,
    private readonly hooks: ControllerHooks,
  ) {
    if (cfg.user !== undefined && cfg.password !== undefined) {
      this.headers.Authorization = `Basic ${Buffer.from(`${cfg.user}:${cfg.password}`).toString('base64')}`;
    }
  }

  async apply(state: Surveillance): Promise<MotionStatus> {
    const target: Detection = state === 'start' ? 'ACTIVE' : 'PAUSE';
    for (const cam of this.cfg.cameras) {
      if ((await this.detection(cam)).every((d) => d === target)) continue;
      const body = await this.get(`/${cam}/detection/${state === 'start' ? 'start' : 'pause'}`);
      this.hooks.log.debug(`webcontrol camera ${cam}: ${body.trim().replace(/\s+/g, ' ')}`);
    }
    // Confirm through the status URL; give Motion a moment in case a camera thread lags behind.
    for (let attempt = 0; ; attempt++) {
      const seen = (await Promise.all(this.cfg.cameras.map((cam) => this.detection(cam)))).flat();
      if (seen.every((d) => d === target)) return toStatus(seen);
      if (attempt >= 10) throw new MotionError(`Motion's detection is ${seen.join(',')} after asking for ${target}`, toStatus(seen));
      await delay(200);
    }
  }

  async status(): Promise<MotionStatus> {
    try {
      return toStatus((await Promise.all(this.cfg.cameras.map((cam) => this.detection(cam)))).flat());
    } catch (err) {
      this.hooks.log.debug(`webcontrol status: ${(err as Error).message}`);
      return 'unknown';
    }
  }

  async close(): Promise<void> {}

  private async detection(cam: number): Promise<Detection[]> {
    const body = await this.get(`/${cam}/detection/status`);
    const found = parseDetectionStatus(body);
    if (!found) throw new MotionError(`unexpected answer from Motion's webcontrol for camera ${cam}: ${JSON.stringify(body.trim().slice(0, 100))}`, 'unknown');
    return found;
  }

  private async get(path: string): Promise<string> {
    const url = this.cfg.url + path;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.headers, signal: AbortSignal.timeout(this.cfg.timeout * 1000), redirect: 'error' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new MotionError(`Motion's webcontrol at ${url} is unreachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 'unknown');
    }
    let body: string;
    try {
      body = await readCapped(res, 64 * 1024); // Motion's pages are a few hundred bytes; the signal bounds the time
    } catch (err) {
      throw new MotionError(`Motion's webcontrol at ${url}: ${(err as Error).message}`, 'unknown');
    }
    if (res.status === 401) throw new MotionError(`Motion's webcontrol refused the user/password (HTTP 401) at ${url}`, 'unknown');
    if (!res.ok || /Bad Request/i.test(body)) {
      throw new MotionError(`Motion's webcontrol rejected ${url} (HTTP ${res.status}: ${body.trim().split('\n')[0].trim().slice(0, 100)}); check motion.cameras and webcontrol_interface 1`, 'unknown');
    }
    return body;
  }
}

function toStatus(seen: Detection[]): MotionStatus {
  if (seen.length && seen.every((d) => d === 'ACTIVE')) return 'running';
  if (seen.length && seen.every((d) => d === 'PAUSE')) return 'paused';
  return 'unknown'; // some cameras active, some paused
}
