/**
 * Time-range presets of the run browser and their translation into the API's `since`/`until`.
 */

export type TimePreset = 'hour' | 'day' | 'week' | 'month' | 'all' | 'custom';

export const PRESET_LABELS: Record<TimePreset, string> = {
  hour: 'Last hour',
  day: 'Last day',
  week: 'Last week',
  month: 'Last 30 days',
  all: 'All time',
  custom: 'Custom'
};

const PRESET_SECONDS: Partial<Record<TimePreset, number>> = {
  hour: 3600,
  day: 86400,
  week: 7 * 86400,
  month: 30 * 86400
};

/** A time range as the user chose it; `since`/`until` are `datetime-local` strings for `custom`. */
export interface ITimeRange {
  preset: TimePreset;
  since: string;
  until: string;
}

/** Everything is visible until the user narrows it: a beamline's catalog spans years. */
export const DEFAULT_RANGE: ITimeRange = {
  preset: 'all',
  since: '',
  until: ''
};

/**
 * The `since`/`until` query arguments for a range, relative to `now` (epoch milliseconds).
 *
 * Presets are sent as epoch seconds so the server and browser time zones cannot disagree;
 * custom bounds are sent as typed (ISO local date-times) and left out when empty.
 */
export function rangeToQuery(
  range: ITimeRange,
  now: number = Date.now()
): { since?: string; until?: string } {
  const span = PRESET_SECONDS[range.preset];
  if (span !== undefined) {
    return { since: String(Math.floor(now / 1000 - span)) };
  }
  if (range.preset === 'custom') {
    return {
      since: range.since ? toEpochSeconds(range.since) : undefined,
      until: range.until ? toEpochSeconds(range.until) : undefined
    };
  }
  return {};
}

/** A `datetime-local` value read in the browser's time zone, as epoch seconds (a string). */
function toEpochSeconds(local: string): string {
  const ms = new Date(local).getTime();
  // An unparsable value goes to the server as typed so its 400 names the problem.
  return Number.isNaN(ms) ? local : String(Math.floor(ms / 1000));
}

/**
 * `2024-03-05 14:30:12` in the browser's time zone, for table cells; `short` gives `03-05 14:30`
 * for narrow ones.
 */
export function formatTime(epochSeconds: number, short = false): string {
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return short
    ? `${date} ${time}`
    : `${d.getFullYear()}-${date} ${time}:${pad(d.getSeconds())}`;
}
