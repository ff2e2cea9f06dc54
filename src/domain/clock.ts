/** Time as the services see it; tests pass a fixed clock. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** ISO-8601 UTC with milliseconds: the one timestamp format stored in both databases. */
export const iso = (d: Date): string => d.toISOString();

/** `YYYY-MM-DD` of a date in UTC. */
export const isoDate = (d: Date): string => d.toISOString().slice(0, 10);
