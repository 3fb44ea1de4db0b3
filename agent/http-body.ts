// Reads an HTTP answer's body (fetch) with a byte cap: a hostile or broken peer cannot grow the agent's
// memory with an endless or huge body. The caller's AbortSignal bounds the time of the whole exchange.

export class BodyTooLarge extends Error {
  constructor(max: number) {
    super(`answer larger than ${max / 1024} KB`);
  }
}

export async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body.cancel().catch(() => {});
    throw new BodyTooLarge(max);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
