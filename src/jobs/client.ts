import type { Event } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import type { IPoll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IRunDetail } from '../api';
import { requestAPI, requestBlob, withQuery } from '../request';
import {
  AutoAnalysis,
  Health,
  IFigureEvent,
  IJobEvent,
  IRunsChangedEvent,
  JobFiles,
  JobList,
  JobPage,
  JobRecord,
  MoveTo,
  SCHEMA,
  SubmitRequest,
  TemplateList
} from './api';

/** How often state is re-read while the event stream is down. */
const FALLBACK_MS = 20_000;
/** After the event manager's reconnect is due, how long to wait before trusting it. */
const SETTLE_MS = 1_500;

/** Query of `GET jobs`. */
export interface IJobQuery {
  state?: string;
  owner?: string;
  catalog?: string;
  uid?: string;
  template?: string;
  sort?: string;
  offset?: number;
  limit?: number;
}

/**
 * What the job models need from the server. {@link JobsClient} is the real one; tests give their own.
 */
export interface IJobsClient {
  readonly jobEvent: ISignal<IJobsClient, IJobEvent>;
  readonly figureEvent: ISignal<IJobsClient, IFigureEvent>;
  readonly runsChanged: ISignal<IJobsClient, IRunsChangedEvent>;
  /** State may have been missed (the stream reconnected, or a fallback tick while it is down). */
  readonly resync: ISignal<IJobsClient, void>;
  user(): Promise<string>;
  templates(): Promise<TemplateList>;
  jobs(query: IJobQuery): Promise<JobPage>;
  job(id: number): Promise<JobRecord>;
  submit(request: SubmitRequest): Promise<JobList>;
  cancel(id: number): Promise<JobRecord>;
  move(id: number, to: MoveTo): Promise<JobRecord>;
  rerun(id: number): Promise<JobRecord>;
  files(id: number): Promise<JobFiles>;
  fileText(id: number, path: string): Promise<string>;
  fileBlob(id: number, path: string): Promise<Blob>;
  autoAnalysis(catalog: string): Promise<AutoAnalysis>;
  setAutoAnalysis(catalog: string, enabled: boolean): Promise<AutoAnalysis>;
  /** The metadata of a job's run, for its panel. */
  runDetail(catalog: string, uid: string): Promise<IRunDetail>;
}

type AnyPoll = IPoll<any, any, any>;

/** The reconnecting poll inside JupyterLab's event manager, when it can be seen. */
function reconnectPoll(events: Event.IManager): AnyPoll | null {
  // EventManager says nothing of its socket; its poll's "rejected" ticks (the socket closed) and
  // their intervals (when it reconnects) are the only sign of an outage it gives.
  const poll = (events as unknown as { _poll?: AnyPoll })._poll;
  return poll && typeof poll.ticked?.connect === 'function' ? poll : null;
}

function fileEndpoint(id: number, path: string): string {
  return `jobs/${id}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * The one owner of the job routes and of Raydata's events: every `requestAPI` call for templates,
 * jobs and automatic analysis goes through here, and the event bus's emissions come out as typed
 * signals (filtered on `schema_id`).
 *
 * The bus does not replay what was sent while its socket was closed, so `resync` fires when the
 * stream comes back, and every {@link FALLBACK_MS} while it is down (never while it is up).
 */
export class JobsClient implements IJobsClient, IDisposable {
  constructor(options: { events: Event.IManager | null }) {
    this._events = options.events;
    this._events?.stream.connect(this._onEmission, this);
    const poll = this._events ? reconnectPoll(this._events) : null;
    if (poll) {
      poll.ticked.connect(this._onTick, this);
    } else if (!this._events) {
      // No stream at all: the slow refresh is all there is.
      this._setStreamUp(false);
    }
  }

  get jobEvent(): ISignal<this, IJobEvent> {
    return this._jobEvent;
  }
  get figureEvent(): ISignal<this, IFigureEvent> {
    return this._figureEvent;
  }
  get runsChanged(): ISignal<this, IRunsChangedEvent> {
    return this._runsChanged;
  }
  get resync(): ISignal<this, void> {
    return this._resync;
  }
  /** Whether events are believed to flow. */
  get streamUp(): boolean {
    return this._streamUp;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  async user(): Promise<string> {
    return (await requestAPI<Health>('health')).user;
  }
  templates(): Promise<TemplateList> {
    return requestAPI<TemplateList>('templates');
  }
  jobs(query: IJobQuery): Promise<JobPage> {
    return requestAPI<JobPage>(withQuery('jobs', { ...query }));
  }
  job(id: number): Promise<JobRecord> {
    return requestAPI<JobRecord>(`jobs/${id}`);
  }
  submit(request: SubmitRequest): Promise<JobList> {
    return requestAPI<JobList>('jobs', {
      method: 'POST',
      body: JSON.stringify(request)
    });
  }
  cancel(id: number): Promise<JobRecord> {
    return requestAPI<JobRecord>(`jobs/${id}/cancel`, { method: 'POST' });
  }
  move(id: number, to: MoveTo): Promise<JobRecord> {
    return requestAPI<JobRecord>(`jobs/${id}/move`, {
      method: 'POST',
      body: JSON.stringify({ to })
    });
  }
  rerun(id: number): Promise<JobRecord> {
    return requestAPI<JobRecord>(`jobs/${id}/rerun`, { method: 'POST' });
  }
  files(id: number): Promise<JobFiles> {
    return requestAPI<JobFiles>(`jobs/${id}/files`);
  }
  async fileText(id: number, path: string): Promise<string> {
    return (await requestBlob(fileEndpoint(id, path))).text();
  }
  fileBlob(id: number, path: string): Promise<Blob> {
    return requestBlob(fileEndpoint(id, path));
  }
  autoAnalysis(catalog: string): Promise<AutoAnalysis> {
    return requestAPI<AutoAnalysis>(
      `catalogs/${encodeURIComponent(catalog)}/auto-analysis`
    );
  }
  setAutoAnalysis(catalog: string, enabled: boolean): Promise<AutoAnalysis> {
    return requestAPI<AutoAnalysis>(
      `catalogs/${encodeURIComponent(catalog)}/auto-analysis`,
      { method: 'PUT', body: JSON.stringify({ enabled }) }
    );
  }

  runDetail(catalog: string, uid: string): Promise<IRunDetail> {
    return requestAPI<IRunDetail>(
      `catalogs/${encodeURIComponent(catalog)}/runs/${encodeURIComponent(uid)}`
    );
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._events?.stream.disconnect(this._onEmission, this);
    if (this._events) {
      reconnectPoll(this._events)?.ticked.disconnect(this._onTick, this);
    }
    clearTimeout(this._settle);
    clearInterval(this._fallback);
    Signal.clearData(this);
  }

  private _onEmission(_: unknown, emission: Event.Emission): void {
    const data = emission as unknown;
    switch (emission.schema_id) {
      case SCHEMA.job:
        this._jobEvent.emit(data as IJobEvent);
        break;
      case SCHEMA.figure:
        this._figureEvent.emit(data as IFigureEvent);
        break;
      case SCHEMA.runsChanged:
        this._runsChanged.emit(data as IRunsChangedEvent);
        break;
    }
    // Anything arriving proves the stream is up.
    if (!this._streamUp) {
      clearTimeout(this._settle);
      this._setStreamUp(true);
      this._resync.emit();
    }
  }

  private _onTick(_: AnyPoll, state: IPoll.State<any, any, any>): void {
    if (state.phase !== 'rejected') {
      return;
    }
    // The socket closed; the manager tries again after `interval`. If that attempt does not fail
    // too, the stream is back: re-read what was missed.
    this._setStreamUp(false);
    clearTimeout(this._settle);
    this._settle = setTimeout(() => {
      this._setStreamUp(true);
      this._resync.emit();
    }, state.interval + SETTLE_MS);
  }

  private _setStreamUp(up: boolean): void {
    if (up === this._streamUp) {
      return;
    }
    this._streamUp = up;
    clearInterval(this._fallback);
    if (!up) {
      this._fallback = setInterval(() => this._resync.emit(), FALLBACK_MS);
    }
  }

  private _events: Event.IManager | null;
  private _fallback: ReturnType<typeof setInterval> | undefined;
  private _streamUp = true;
  private _settle: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
  private _jobEvent = new Signal<this, IJobEvent>(this);
  private _figureEvent = new Signal<this, IFigureEvent>(this);
  private _runsChanged = new Signal<this, IRunsChangedEvent>(this);
  private _resync = new Signal<this, void>(this);
}
