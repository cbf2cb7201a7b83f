import { DEFAULT_SORT, sortToQuery } from '../runs/sort';
import { formatTime, rangeToQuery } from '../runs/timeRange';
import { compactValue, isStructured } from '../runs/values';

describe('rangeToQuery', () => {
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);

  it('turns presets into an epoch-seconds lower bound', () => {
    const nowSeconds = now / 1000;
    expect(rangeToQuery({ preset: 'hour', since: '', until: '' }, now)).toEqual(
      {
        since: String(nowSeconds - 3600)
      }
    );
    expect(rangeToQuery({ preset: 'week', since: '', until: '' }, now)).toEqual(
      {
        since: String(nowSeconds - 7 * 86400)
      }
    );
  });

  it('sends no bounds for all time', () => {
    expect(
      rangeToQuery({ preset: 'all', since: 'x', until: 'y' }, now)
    ).toEqual({});
  });

  it('reads custom bounds in the browser time zone and leaves empty ones out', () => {
    const local = '2024-03-05T14:30';
    const expected = String(new Date(local).getTime() / 1000);
    expect(
      rangeToQuery({ preset: 'custom', since: local, until: '' }, now)
    ).toEqual({ since: expected, until: undefined });
  });

  it('passes an unparsable custom bound through so the server can name it', () => {
    expect(
      rangeToQuery({ preset: 'custom', since: '', until: 'yesterday' }, now)
    ).toEqual({ since: undefined, until: 'yesterday' });
  });
});

// The facility's zone (`make jest` sets it): local midnight is not UTC midnight there.
const inNewYork =
  Intl.DateTimeFormat().resolvedOptions().timeZone === 'America/New_York';
const MIDNIGHT_NY = 1709614800; // 2024-03-05 00:00 in New York, 05:00 UTC

(inNewYork ? describe : describe.skip)(
  'local time on both sides of midnight',
  () => {
    it('shows start times in the browser zone', () => {
      expect(formatTime(MIDNIGHT_NY - 60)).toBe('2024-03-04 23:59:00');
      expect(formatTime(MIDNIGHT_NY + 60)).toBe('2024-03-05 00:01:00');
    });

    it('reads custom bounds in the browser zone', () => {
      expect(
        rangeToQuery({
          preset: 'custom',
          since: '2024-03-05T00:00',
          until: '2024-03-04T23:59'
        })
      ).toEqual({
        since: String(MIDNIGHT_NY),
        until: String(MIDNIGHT_NY - 60)
      });
    });
  }
);

describe('formatTime', () => {
  it('formats in local time with zero padding', () => {
    const t = new Date(2024, 0, 2, 3, 4, 5).getTime() / 1000;
    expect(formatTime(t)).toBe('2024-01-02 03:04:05');
  });
});

describe('sortToQuery', () => {
  it('writes descending keys with a leading minus', () => {
    expect(
      sortToQuery([
        { key: 'owner', descending: false },
        { key: 'time', descending: true }
      ])
    ).toBe('owner,-time');
  });

  it('keeps at most three keys, the server limit', () => {
    const keys = ['a', 'b', 'c', 'd'].map(key => ({ key, descending: false }));
    expect(sortToQuery(keys)).toBe('a,b,c');
  });

  it('leaves the order to the server when there are no keys', () => {
    expect(sortToQuery([])).toBeUndefined();
    expect(sortToQuery(DEFAULT_SORT)).toBe('-time');
  });
});

describe('compactValue', () => {
  it('shows strings as they are and structures as JSON', () => {
    expect(compactValue('<script>alert(1)</script>')).toBe(
      '<script>alert(1)</script>'
    );
    expect(compactValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(compactValue(null)).toBe('');
  });

  it('cuts long values with an ellipsis', () => {
    expect(compactValue('x'.repeat(100), 10)).toBe('xxxxxxxxx…');
  });

  it('tells structures from scalars', () => {
    expect(isStructured([1])).toBe(true);
    expect(isStructured('a')).toBe(false);
    expect(isStructured(null)).toBe(false);
  });
});
