/**
 * Sort keys of the run table and their `sort` query form (`-time,owner`).
 */

export interface ISortKey {
  key: string;
  descending: boolean;
}

/** The server allows three sort keys; the table never asks for more. */
export const MAX_SORT_KEYS = 3;

export const DEFAULT_SORT: ISortKey[] = [{ key: 'time', descending: true }];

/** `[{time, desc}, {owner, asc}]` → `-time,owner`; an empty list means the default order. */
export function sortToQuery(keys: ISortKey[]): string | undefined {
  if (keys.length === 0) {
    return undefined;
  }
  return keys
    .slice(0, MAX_SORT_KEYS)
    .map(k => (k.descending ? `-${k.key}` : k.key))
    .join(',');
}
