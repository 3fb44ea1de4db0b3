// Reads and compiles the mail templates: the MJML file (built-in or the user's) once at start and again
// whenever the file changes (checked by size and mtime before each mail); subject and text are placeholders.
import { readFile, stat } from 'node:fs/promises';
import { FIELD_SET, type Templates } from '../../lib/mail/compose';
import { compileMjml, DEFAULT_MJML_PATH, DEFAULT_TEXT_PATH, placeholders, type Filler } from '../../lib/mail/template';

export class TemplateSource {
  private html: Filler | null = null;
  private stamp = '';
  private readonly text: Promise<Filler>;
  private readonly subject: Filler;

  /** `path` empty means the built-in template. Throws a FieldError for a bad subject. */
  constructor(
    readonly path: string,
    subject: string,
    private readonly warn: (msg: string) => void = () => {},
  ) {
    this.subject = placeholders(subject, FIELD_SET, { html: false, field: 'subject' });
    this.text = readFile(DEFAULT_TEXT_PATH, 'utf8').then((src) => placeholders(src, FIELD_SET, { html: false }));
  }

  get file(): string {
    return this.path || DEFAULT_MJML_PATH;
  }

  /** The current templates, recompiling the MJML if its file changed. A broken edit keeps the last good one. */
  async get(): Promise<Templates> {
    const st = await stat(this.file).catch((err: Error) => {
      if (!this.html) throw new Error(`template ${JSON.stringify(this.file)}: ${err.message}`);
      return null;
    });
    const stamp = st ? `${st.size}:${st.mtimeMs}` : this.stamp;
    if (!this.html || stamp !== this.stamp) {
      try {
        const source = await readFile(this.file, 'utf8');
        const { filler, warnings } = await compileMjml(source, FIELD_SET, `template ${this.file}`);
        for (const w of warnings.slice(0, 5)) this.warn(`template ${this.file}: ${w}`);
        this.html = filler;
        this.stamp = stamp;
      } catch (err) {
        if (!this.html) throw err;
        this.stamp = stamp; // report a broken edit once, keep mailing with the last good template
        this.warn(`template ${this.file} not recompiled, keeping the previous version: ${(err as Error).message}`);
      }
    }
    return { subject: this.subject, html: this.html, text: await this.text };
  }
}
