// Mail templates: MJML compiled once to HTML, then filled in per mail with placeholders.
//   {{name}}               the value (HTML-escaped in the HTML part)
//   {{#name}}…{{/name}}    the block when the value is set (non-empty text, non-zero number, true)
//   {{^name}}…{{/name}}    the block when it is not
// A block tag alone on its line removes that line. Placeholders are parsed once; an unknown name or an
// unbalanced block is an error naming it.
// In MJML, wrap a block around whole sections with <mj-raw>{{#name}}</mj-raw> … <mj-raw>{{/name}}</mj-raw>.
import { join } from 'node:path';
import { FieldError } from '../errors';

export type Value = string | number | boolean | null;
export type View = Record<string, Value>;

type Part = { text: string } | { name: string } | { name: string; invert: boolean; body: Part[] };

export interface Filler {
  fill(view: View): string;
}

export const DEFAULT_MJML_PATH = join(__dirname, 'template.mjml');
export const DEFAULT_TEXT_PATH = join(__dirname, 'template.txt');

const TAG = /\{\{\s*([#^/]?)\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function parse(source: string, known: ReadonlySet<string>, field: string): Part[] {
  const root: Part[] = [];
  const stack: { name: string; body: Part[] }[] = [{ name: '', body: root }];
  let last = 0;
  for (const m of source.matchAll(TAG)) {
    const [tag, sigil, name] = m;
    const top = stack[stack.length - 1];
    let before = m.index;
    let after = m.index + tag.length;
    if (sigil) {
      // A block tag alone on its line takes the whole line with it (as in Mustache), so blocks leave no blank lines.
      const lineStart = source.lastIndexOf('\n', m.index - 1) + 1;
      const nl = source.indexOf('\n', after);
      const lineEnd = nl === -1 ? source.length : nl;
      if (/^[ \t]*$/.test(source.slice(lineStart, m.index)) && /^[ \t\r]*$/.test(source.slice(after, lineEnd))) {
        before = Math.max(lineStart, last);
        after = nl === -1 ? source.length : nl + 1;
      }
    }
    if (before > last) top.body.push({ text: source.slice(last, before) });
    last = after;
    if (!known.has(name)) throw new FieldError(field, tag, `unknown placeholder; known: ${[...known].join(', ')}`);
    if (sigil === '#' || sigil === '^') {
      const block = { name, invert: sigil === '^', body: [] as Part[] };
      top.body.push(block);
      stack.push(block);
    } else if (sigil === '/') {
      if (top.name !== name) throw new FieldError(field, tag, top.name ? `closes a block while {{#${top.name}}} is open` : 'closes a block that was never opened');
      stack.pop();
    } else {
      top.body.push({ name });
    }
  }
  if (stack.length > 1) throw new FieldError(field, `{{#${stack[stack.length - 1].name}}}`, 'block is never closed');
  if (last < source.length) root.push({ text: source.slice(last) });
  return root;
}

function truthy(v: Value | undefined): boolean {
  return v !== null && v !== undefined && v !== false && v !== '' && v !== 0;
}

function render(parts: Part[], view: View, escape: (s: string) => string): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) out += p.text;
    else if ('body' in p) {
      if (truthy(view[p.name]) !== p.invert) out += render(p.body, view, escape);
    } else {
      const v = view[p.name];
      out += v === null || v === undefined || v === false ? '' : escape(String(v));
    }
  }
  return out;
}

/** A placeholder template; `html` escapes every value for HTML, otherwise values go in as they are. */
export function placeholders(source: string, known: ReadonlySet<string>, opts: { html: boolean; field?: string }): Filler {
  const parts = parse(source, known, opts.field ?? 'template');
  const escape = opts.html ? escapeHtml : (s: string) => s;
  return { fill: (view) => render(parts, view, escape) };
}

interface MjmlResult {
  html: string;
  errors: { formattedMessage?: string; message: string }[];
}
type Mjml2Html = (input: string, options: Record<string, unknown>) => Promise<MjmlResult>;

/**
 * Compile MJML to HTML once (mjml 5: ~0.1 s the first time, ~10 ms later), checking its placeholders.
 * `fonts: {}` keeps MJML from linking web fonts, so the mail loads nothing from outside.
 */
export async function compileMjml(source: string, known: ReadonlySet<string>, field = 'template'): Promise<{ filler: Filler; warnings: string[] }> {
  // Loaded on first use: requiring mjml costs ~0.5 s.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('mjml') as Mjml2Html | { default: Mjml2Html };
  const mjml2html = typeof mod === 'function' ? mod : mod.default;
  let result: MjmlResult;
  try {
    result = await mjml2html(source, { validationLevel: 'soft', fonts: {}, keepComments: false, ignoreIncludes: true });
  } catch (err) {
    throw new FieldError(field, (err as Error).message.slice(0, 200), 'is not valid MJML');
  }
  const warnings = result.errors.map((e) => e.formattedMessage ?? e.message);
  return { filler: placeholders(result.html, known, { html: true, field }), warnings };
}
