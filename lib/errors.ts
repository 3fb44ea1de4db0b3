/** An error whose message names the field and the offending value, e.g. `start "25:00": not a time of day (HH:MM)`. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${field} ${JSON.stringify(value)}: ${reason}`);
    this.name = 'FieldError';
  }
}
