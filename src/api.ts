/**
 * Shapes of the Raydata REST API answers (mirrors the server's pydantic models).
 */

/** `GET health` */
export interface IHealth {
  version: string;
  catalogs: string[];
  executor: string;
}

/** One configured catalog, `GET catalogs` */
export interface ICatalogInfo {
  name: string;
  kind: string;
  reachable: boolean;
  reason: string;
  indexed_runs: number | null;
}

export interface ICatalogList {
  catalogs: ICatalogInfo[];
}

/** One row of the run table. */
export interface IRunRow {
  uid: string;
  scan_id: number | null;
  time: number;
  plan_name: string | null;
  owner: string | null;
  exit_status: string | null;
  columns: Record<string, unknown>;
}

/** `GET catalogs/{name}/runs` */
export interface IRunPage {
  runs: IRunRow[];
  total: number;
  offset: number;
  /** True while the catalog is still being indexed: rows and total cover only the indexed runs. */
  partial: boolean;
  indexed_runs: number;
  catalog_runs: number | null;
  stale: boolean;
}

export interface IColumnInfo {
  key: string;
  count: number;
}

/** `GET catalogs/{name}/columns` */
export interface IColumnList {
  columns: IColumnInfo[];
  total_runs: number;
}

export interface IQueryExample {
  query: string;
  meaning: string;
}

/** `GET catalogs/{name}/query-help` */
export interface IQueryHelp {
  query: string;
  examples: IQueryExample[];
  sort: string;
  dates: string;
}

export interface IPanelField {
  key: string;
  label: string;
  value: unknown;
}

export interface IPanel {
  name: string;
  title: string;
  fields: IPanelField[];
}

export interface IDataKeyInfo {
  key: string;
  shape: number[];
  dtype: string;
  source: string;
  external: boolean;
  image: boolean;
}

export interface IStreamInfo {
  name: string;
  events: number | null;
  data_keys: IDataKeyInfo[];
}

/** `GET catalogs/{name}/runs/{uid}` */
export interface IRunDetail {
  uid: string;
  panels: IPanel[];
  start: Record<string, unknown>;
  stop: Record<string, unknown> | null;
  streams: IStreamInfo[];
  image_keys: string[];
}
