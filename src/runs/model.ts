import { IStateDB } from '@jupyterlab/statedb';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ICatalogInfo,
  ICatalogList,
  IColumnInfo,
  IColumnList,
  IQueryHelp,
  IRunDetail,
  IRunPage
} from '../api';
import { RaydataAPIError, requestAPI, withQuery } from '../request';
import { DEFAULT_SORT, ISortKey, sortToQuery } from './sort';
import { DEFAULT_RANGE, ITimeRange, rangeToQuery } from './timeRange';

/** Extra start-document columns a new user sees before choosing their own. */
export const DEFAULT_COLUMNS = ['sequence id', 'number of images'];

const STATE_PREFIX = 'jupyterlab-raydata:run-browser';

/**
 * How often the table looks for new runs, and how far it backs off while the server fails. New runs
 * normally arrive as "runs changed" events (`runsChanged`); this is the fallback.
 */
const POLL_INTERVAL_MS = 60_000;
/** While the server is still indexing a catalog (no event says how far it got), look more often. */
const INDEXING_POLL_MS = 10_000;
const POLL_MAX_MS = 5 * 60_000;

/** A failure the views show: a short title and what to do. */
export interface IProblem {
  error: string;
  detail: string;
}

function progressOf(page: IRunPage): IIndexProgress | null {
  return page.partial
    ? { indexed: page.indexed_runs, total: page.catalog_runs }
    : null;
}

function toProblem(error: unknown): IProblem {
  if (error instanceof RaydataAPIError) {
    return { error: error.error, detail: error.detail };
  }
  return { error: 'Unexpected error', detail: String(error) };
}

/** Run metadata of the active run, loading or failed. */
export type DetailState =
  | { status: 'none' }
  | { status: 'loading'; uid: string }
  | { status: 'ready'; uid: string; detail: IRunDetail }
  | { status: 'error'; uid: string; problem: IProblem };

/** How far the server's index has got while it is still reading the catalog. */
export interface IIndexProgress {
  indexed: number;
  total: number | null;
}

/** Options for a preview image request. */
export interface IPreviewOptions {
  kind: 'average' | 'frame';
  index: number;
  scale: 'log' | 'linear';
  maxSize: number;
}

/**
 * State of the run browser: catalog, filters, sort, columns, selection, active run.
 *
 * Views render it and call its setters; every grid showing it (the sidebar's and the main area's)
 * asks it for pages, so catalog, search, sort, columns and selection are one state. It emits `changed`
 * for any state change, `searchChanged` when the set of matching runs must be fetched afresh (grids
 * reset), and `rowsStale` when polling sees new runs or the columns change (grids refresh in place:
 * scroll and selection survive).
 *
 * A search the server refuses (a query that does not parse) keeps the last accepted one in force:
 * the tables go on showing its runs beside the error until the user changes the query.
 */
export class RunBrowserModel implements IDisposable {
  constructor(options: { state?: IStateDB | null } = {}) {
    this._state = options.state ?? null;
    this._poll = new Poll({
      auto: false,
      factory: () => this._checkForNewRuns(),
      frequency: {
        interval: POLL_INTERVAL_MS,
        backoff: true,
        max: POLL_MAX_MS
      },
      name: 'raydata:new-runs',
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get searchChanged(): ISignal<this, void> {
    return this._searchChanged;
  }
  get rowsStale(): ISignal<this, void> {
    return this._rowsStale;
  }

  get catalogs(): ICatalogInfo[] {
    return this._catalogs;
  }
  get catalog(): string | null {
    return this._catalog;
  }
  get range(): ITimeRange {
    return this._range;
  }
  get query(): string {
    return this._query;
  }
  get sort(): ISortKey[] {
    return this._sort;
  }
  get columns(): string[] {
    return this._columns;
  }
  get availableColumns(): IColumnInfo[] {
    return this._available;
  }
  get help(): IQueryHelp | null {
    return this._help;
  }
  /** Runs matching the search, or null before the first page arrives. */
  get total(): number | null {
    return this._total;
  }
  /** True while the server's index is still reading the catalog: the runs shown may be missing some. */
  get partial(): boolean {
    return this._progress !== null;
  }
  /** Runs indexed of the catalog's runs while `partial`, else null. */
  get progress(): IIndexProgress | null {
    return this._progress;
  }
  /** True when the server could not reach the catalog for new runs. */
  get stale(): boolean {
    return this._stale;
  }
  get problem(): IProblem | null {
    return this._queryProblem ?? this._problem;
  }
  get selected(): ReadonlySet<string> {
    return this._selected;
  }
  get detail(): DetailState {
    return this._detail;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }
  /** The state of each run's latest analysis job, where known (the run table's "Job" column). */
  get jobStates(): ReadonlyMap<string, string> {
    return this._jobStates;
  }
  get jobStatesChanged(): ISignal<this, void> {
    return this._jobStatesChanged;
  }

  setJobStates(states: ReadonlyMap<string, string>): void {
    this._jobStates = states;
    this._jobStatesChanged.emit();
  }

  /** The server saw new or finished runs in `catalog`: look now rather than at the next poll. */
  runsChanged(catalog: string): void {
    if (catalog === this._catalog) {
      void this._poll.refresh();
    }
  }

  /** Load the catalogs, restore the user's last catalog and start looking for new runs. */
  async initialize(): Promise<void> {
    try {
      const list = await requestAPI<ICatalogList>('catalogs');
      this._catalogs = list.catalogs;
    } catch (error) {
      this._setProblem(toProblem(error));
      return;
    }
    const saved = (await this._load('catalog')) as string | undefined;
    const names = this._catalogs.map(c => c.name);
    const reachable = this._catalogs.find(c => c.reachable)?.name;
    const chosen =
      saved && names.includes(saved) ? saved : (reachable ?? names[0] ?? null);
    if (chosen) {
      await this.setCatalog(chosen);
    } else {
      this._changed.emit();
    }
    void this._poll.start();
  }

  async setCatalog(name: string): Promise<void> {
    this._catalog = name;
    this._goodQuery = this._query;
    this._queryProblem = null;
    this._selected = new Set();
    this._detail = { status: 'none' };
    this._help = null;
    this._available = [];
    this._columns =
      ((await this._load(`columns:${name}`)) as string[] | undefined) ??
      DEFAULT_COLUMNS;
    void this._save('catalog', name);
    this._restartSearch();
    const endpoint = `catalogs/${encodeURIComponent(name)}`;
    const [columns, help] = await Promise.allSettled([
      requestAPI<IColumnList>(`${endpoint}/columns`),
      requestAPI<IQueryHelp>(`${endpoint}/query-help`)
    ]);
    if (this._catalog !== name) {
      return;
    }
    if (columns.status === 'fulfilled') {
      this._available = columns.value.columns;
    }
    if (help.status === 'fulfilled') {
      this._help = help.value;
    }
    this._changed.emit();
  }

  setRange(range: ITimeRange): void {
    this._range = range;
    this._restartSearch();
  }

  setQuery(query: string): void {
    if (query === this._query && this._queryProblem === null) {
      return;
    }
    this._query = query;
    this._queryProblem = null;
    this._restartSearch();
  }

  /** Called by a grid when the user sorts (that grid refetches; the others follow the model). */
  setSort(keys: ISortKey[]): void {
    const sort = keys.length ? keys : DEFAULT_SORT;
    if (sortToQuery(sort) === sortToQuery(this._sort)) {
      return;
    }
    this._sort = sort;
    this._changed.emit();
  }

  setColumns(columns: string[]): void {
    this._columns = columns;
    if (this._catalog) {
      void this._save(`columns:${this._catalog}`, columns);
    }
    this._rowsStale.emit();
    this._changed.emit();
  }

  setSelection(uids: Iterable<string>): void {
    this._selected = new Set(uids);
    this._changed.emit();
  }

  /** Tick or untick one run (from any table). */
  select(uid: string, selected: boolean): void {
    if (this._selected.has(uid) === selected) {
      return;
    }
    const next = new Set(this._selected);
    if (selected) {
      next.add(uid);
    } else {
      next.delete(uid);
    }
    this.setSelection(next);
  }

  /** Show a run's metadata panels and preview. */
  async activate(uid: string): Promise<void> {
    const catalog = this._catalog;
    if (!catalog) {
      return;
    }
    this._detail = { status: 'loading', uid };
    this._changed.emit();
    let next: DetailState;
    try {
      const detail = await requestAPI<IRunDetail>(this._runEndpoint(uid));
      next = { status: 'ready', uid, detail };
    } catch (error) {
      next = { status: 'error', uid, problem: toProblem(error) };
    }
    // A later click wins over an earlier, slower answer.
    if (this._detail.status === 'loading' && this._detail.uid === uid) {
      this._detail = next;
      this._changed.emit();
    }
  }

  /** The API path of a run's preview image. */
  previewEndpoint(uid: string, options: IPreviewOptions): string {
    return withQuery(`${this._runEndpoint(uid)}/image`, {
      kind: options.kind,
      index: options.kind === 'frame' ? options.index : undefined,
      scale: options.scale,
      max_size: options.maxSize
    });
  }

  /** One page of matching runs in the current sort order; called by the grid as the user scrolls. */
  async fetchRows(offset: number, limit: number): Promise<IRunPage> {
    const catalog = this._catalog;
    if (!catalog) {
      return {
        runs: [],
        total: 0,
        offset,
        partial: false,
        indexed_runs: 0,
        catalog_runs: 0,
        stale: false
      };
    }
    const query = this._query;
    try {
      const page = await requestAPI<IRunPage>(
        this._runsEndpoint(catalog, { offset, limit })
      );
      this._total = page.total;
      this._progress = progressOf(page);
      this._pace();
      this._stale = page.stale;
      this._newest = offset === 0 ? (page.runs[0]?.uid ?? null) : this._newest;
      this._goodQuery = query;
      this._goodTotal = page.total;
      this._problem = null;
      this._changed.emit();
      return page;
    } catch (error) {
      const refused =
        error instanceof RaydataAPIError &&
        error.status === 400 &&
        query === this._query &&
        query !== this._goodQuery;
      if (refused) {
        // Keep the last accepted search in force: the tables show its runs beside the error.
        this._queryProblem = toProblem(error);
        this._query = this._goodQuery;
        this._total = this._goodTotal;
        this._changed.emit();
        // Once the grid has taken this failure, it fetches the accepted search again.
        setTimeout(() => this._searchChanged.emit(), 0);
      } else {
        this._setProblem(toProblem(error));
      }
      throw error;
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _restartSearch(): void {
    this._total = null;
    this._newest = null;
    this._problem = null;
    this._searchChanged.emit();
    this._changed.emit();
  }

  private async _checkForNewRuns(): Promise<void> {
    const catalog = this._catalog;
    if (!catalog || this._total === null) {
      return;
    }
    const page = await requestAPI<IRunPage>(
      this._runsEndpoint(catalog, { offset: 0, limit: 1 })
    );
    if (catalog !== this._catalog) {
      return;
    }
    const newest = page.runs[0]?.uid ?? null;
    const grew = page.total !== this._total || newest !== this._newest;
    const progress = progressOf(page);
    const indexing =
      progress?.indexed !== this._progress?.indexed ||
      page.partial !== this.partial;
    if (grew || indexing || page.stale !== this._stale) {
      this._total = page.total;
      this._newest = newest;
      this._progress = progress;
      this._pace();
      this._stale = page.stale;
      this._rowsStale.emit();
      this._changed.emit();
    }
  }

  /** Poll faster while the index is partial, slowly once events carry the news. */
  private _pace(): void {
    const interval = this.partial ? INDEXING_POLL_MS : POLL_INTERVAL_MS;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { interval, backoff: true, max: POLL_MAX_MS };
    }
  }

  private _runsEndpoint(
    catalog: string,
    paging: { offset: number; limit: number }
  ): string {
    return withQuery(`catalogs/${encodeURIComponent(catalog)}/runs`, {
      ...rangeToQuery(this._range),
      q: this._query.trim() || undefined,
      sort: sortToQuery(this._sort),
      columns: this._columns.length ? this._columns.join(',') : undefined,
      offset: paging.offset,
      limit: paging.limit
    });
  }

  private _runEndpoint(uid: string): string {
    return `catalogs/${encodeURIComponent(this._catalog ?? '')}/runs/${encodeURIComponent(uid)}`;
  }

  private _setProblem(problem: IProblem): void {
    this._problem = problem;
    this._changed.emit();
  }

  private async _load(key: string): Promise<unknown> {
    try {
      return await this._state?.fetch(`${STATE_PREFIX}:${key}`);
    } catch {
      return undefined;
    }
  }

  private async _save(key: string, value: string | string[]): Promise<void> {
    await this._state?.save(`${STATE_PREFIX}:${key}`, value);
  }

  private _state: IStateDB | null;
  private _poll: Poll;
  private _disposed = false;
  private _catalogs: ICatalogInfo[] = [];
  private _catalog: string | null = null;
  private _range: ITimeRange = DEFAULT_RANGE;
  private _query = '';
  private _sort: ISortKey[] = DEFAULT_SORT;
  private _columns: string[] = DEFAULT_COLUMNS;
  private _available: IColumnInfo[] = [];
  private _help: IQueryHelp | null = null;
  private _total: number | null = null;
  private _progress: IIndexProgress | null = null;
  private _stale = false;
  private _newest: string | null = null;
  private _problem: IProblem | null = null;
  private _queryProblem: IProblem | null = null;
  private _goodQuery = '';
  private _goodTotal: number | null = null;
  private _selected = new Set<string>();
  private _detail: DetailState = { status: 'none' };
  private _changed = new Signal<this, void>(this);
  private _searchChanged = new Signal<this, void>(this);
  private _rowsStale = new Signal<this, void>(this);
  private _jobStates: ReadonlyMap<string, string> = new Map();
  private _jobStatesChanged = new Signal<this, void>(this);
}
