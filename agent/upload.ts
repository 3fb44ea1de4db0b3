// Uploads one event file to the hub (`POST <base>/event`), streamed from disk, and says what the answer
// means for the caller: done, try again later (spool), or refused for good.
import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EVENT_PATH, eventQuery, IDEMPOTENCY_HEADER, type EventMeta } from '../lib/event-upload';

export const UPLOAD_TIMEOUT_MS = 3000;
/**
 * Deadline of the whole exchange (connect, file, answer), whatever the hub does (a hub that trickles a
 * byte a second resets any idle timeout): 5 s, plus 1 s per MiB of the file (a 1 MiB/s floor).
 */
export const DEADLINE_BASE_MS = 5000;
export const DEADLINE_MS_PER_MIB = 1000;
/** The answer is read up to this size (the hub's is ~100 bytes); beyond, the exchange is cut. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export function uploadDeadlineMs(size: number, timeoutMs = UPLOAD_TIMEOUT_MS): number {
  return Math.max(timeoutMs, DEADLINE_BASE_MS) + Math.ceil((size / 1048576) * DEADLINE_MS_PER_MIB);
}

export type UploadResult =
  | { outcome: 'accepted'; status: number; id: string }
  | { outcome: 'duplicate'; status: number }
  | { outcome: 'retry'; reason: string } // unreachable, too slow, 5xx, 404, 408, 429
  | { outcome: 'refused'; status: number; reason: string }; // any other answer: the event itself is refused

export interface Upload {
  base: string; // http(s)://host:port/dms3
  token: string;
  meta: EventMeta;
  key: string;
  mime: string;
  file: { path: string; size: number };
  timeoutMs?: number; // without a byte in either direction for this long, give up
  deadlineMs?: number; // the whole exchange, whatever happens (default uploadDeadlineMs)
}

function classify(res: IncomingMessage, text: string): UploadResult {
  const status = res.statusCode ?? 0;
  let body: { id?: unknown; duplicate?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the reason is the text
  }
  const reason = `${status} ${typeof body.error === 'string' ? body.error : text.slice(0, 200) || res.statusMessage}`;
  if (status >= 200 && status < 300) return body.duplicate === true ? { outcome: 'duplicate', status } : { outcome: 'accepted', status, id: String(body.id ?? '') };
  // 404: Node-RED is up but the hub's route is not (a deploy in progress, or the hub node not deployed yet).
  // 409: the same upload is still being stored by the hub (an earlier try that timed out here).
  if (status >= 500 || status === 404 || status === 408 || status === 409 || status === 429) return { outcome: 'retry', reason };
  return { outcome: 'refused', status, reason };
}

export function uploadEvent(u: Upload): Promise<UploadResult> {
  const url = new URL(`${u.base}${EVENT_PATH}?${eventQuery(u.meta)}`);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeoutMs = u.timeoutMs ?? UPLOAD_TIMEOUT_MS;
  const deadlineMs = u.deadlineMs ?? uploadDeadlineMs(u.file.size, timeoutMs);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: UploadResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(r);
    };
    // Cut, not judged: the hub may have stored the event; the idempotency key makes a later retry safe.
    const cut = (reason: string) => {
      settle({ outcome: 'retry', reason });
      req.destroy();
    };
    const deadline = setTimeout(() => cut(`no complete answer within ${deadlineMs / 1000} s`), deadlineMs);
    const req = request(url, {
      method: 'POST',
      timeout: timeoutMs,
      headers: {
        Authorization: `Bearer ${u.token}`,
        'Content-Type': u.mime,
        'Content-Length': u.file.size,
        [IDEMPOTENCY_HEADER]: u.key,
      },
    });
    let answered = false;
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    // The hub may answer (413, 503) before it has read the whole file: then the answer counts, not the broken pipe.
    req.on('error', (err) => {
      if (!answered) settle({ outcome: 'retry', reason: err.message || (err as NodeJS.ErrnoException).code || 'connection failed' });
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if ((size += c.length) <= MAX_ANSWER_BYTES) chunks.push(c);
        else cut(`answer larger than ${MAX_ANSWER_BYTES / 1024} KB`);
      });
      res.on('error', () => {}); // a cut answer still has its status: judged on close
      res.on('close', () => {
        // A 2xx cut short may be anything; retrying is safe (the idempotency key), believing it is not.
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        if (ok && !res.complete) settle({ outcome: 'retry', reason: `${res.statusCode} answer cut short` });
        else settle(classify(res, Buffer.concat(chunks).toString('utf8')));
      });
    });
    const body = createReadStream(u.file.path, { start: 0, end: Math.max(0, u.file.size - 1) });
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}
