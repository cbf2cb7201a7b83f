import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { RaydataAPIError } from '../request';
import {
  AutoAnalysis,
  IJobEvent,
  isFinal,
  JobRecord,
  MoveTo,
  TemplateInfo
} from './api';
import { IJobsClient } from './client';
import { fieldOfError, fieldsOf, FormText, parseForm } from './form';

/** How many finished jobs the queue keeps listing (newest first), after the active ones. */
export const FINISHED_SHOWN = 200;

/** A refusal the views show: a title, a sentence, and the form field it concerns if any. */
export interface IJobProblem {
  error: string;
  detail: string;
  field: string | null;
}

export function toJobProblem(
  error: unknown,
  names: string[] = []
): IJobProblem {
  if (error instanceof RaydataAPIError) {
    return {
      error: error.error,
      detail: error.detail,
      field: fieldOfError(error.error, error.detail, names)
    };
  }
  return { error: 'Unexpected error', detail: String(error), field: null };
}

function sameOrder(a: JobRecord[], b: JobRecord[]): boolean {
  return a.length === b.length && a.every((job, i) => job.id === b[i].id);
}

/**
 * The queue as this browser knows it: jobs (active ones in queue order, then recently finished
 * ones), the templates, who "mine" is, and the selected catalog's automatic-analysis switch.
 *
 * Kept current by the client's events: `jobChanged` for one job's progress or state, `jobsChanged`
 * when jobs come or go or the order changes, `templatesChanged` when the templates were read again.
 * After the event stream reconnects (or on the client's slow fallback while it is down) it reads
 * everything again.
 */
export class JobsModel implements IDisposable {
  constructor(readonly client: IJobsClient) {
    client.jobEvent.connect(this._onJobEvent, this);
    client.resync.connect(this._onResync, this);
  }

  get jobsChanged(): ISignal<this, void> {
    return this._jobsChanged;
  }
  get jobChanged(): ISignal<this, JobRecord> {
    return this._jobChanged;
  }
  get templatesChanged(): ISignal<this, void> {
    return this._templatesChanged;
  }
  /** A job of `user` reached a final state while we watched. */
  get jobFinished(): ISignal<this, JobRecord> {
    return this._jobFinished;
  }
  get autoChanged(): ISignal<this, void> {
    return this._autoChanged;
  }

  /** Active jobs in queue order, then finished ones, newest first. */
  get jobs(): ReadonlyArray<JobRecord> {
    return this._jobs;
  }
  get templates(): ReadonlyArray<TemplateInfo> {
    return this._templates;
  }
  /** Who this browser acts as (the owner of the jobs it submits); null until known. */
  get user(): string | null {
    return this._user;
  }
  get problem(): IJobProblem | null {
    return this._problem;
  }
  get auto(): AutoAnalysis | null {
    return this._auto;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  job(id: number): JobRecord | undefined {
    return this._jobs.find(j => j.id === id);
  }

  /** The most recent job of each run (by uid), for the run table. */
  latestByRun(): Map<string, JobRecord> {
    const latest = new Map<string, JobRecord>();
    for (const job of this._jobs) {
      const known = latest.get(job.uid);
      if (!known || job.created > known.created) {
        latest.set(job.uid, job);
      }
    }
    return latest;
  }

  /** Jobs as the queue table shows them: mine first (each group in queue order), or only mine. */
  visibleJobs(everyone: boolean): JobRecord[] {
    const mine = this._jobs.filter(j => j.owner === this._user);
    if (!everyone) {
      return mine;
    }
    return [...mine, ...this._jobs.filter(j => j.owner !== this._user)];
  }

  /** Read who we are, the templates and the jobs. */
  async initialize(): Promise<void> {
    try {
      this._user = await this.client.user();
    } catch (error) {
      this._setProblem(toJobProblem(error));
    }
    await Promise.all([this.refreshTemplates(), this.refresh()]);
  }

  async refreshTemplates(): Promise<void> {
    try {
      this._templates = (await this.client.templates()).templates;
      this._templatesChanged.emit();
    } catch (error) {
      this._setProblem(toJobProblem(error));
    }
  }

  /** Read the jobs again: the active ones in queue order, then the newest finished ones. */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    try {
      const [active, finished] = await Promise.all([
        this.client.jobs({
          state: 'queued,running',
          sort: 'position',
          limit: 1000
        }),
        this.client.jobs({
          state: 'completed,failed,cancelled',
          sort: '-finished',
          limit: FINISHED_SHOWN
        })
      ]);
      if (generation !== this._generation) {
        return;
      }
      this._problem = null;
      this._setJobs([...active.jobs, ...finished.jobs]);
    } catch (error) {
      this._setProblem(toJobProblem(error));
    }
  }

  /** Queue `template` on each run; the server checks everything first and queues all or none. */
  async submit(options: {
    template: TemplateInfo;
    catalog: string;
    uids: string[];
    text: FormText;
    mask: string | null;
  }): Promise<{ jobs: JobRecord[]; problem: IJobProblem | null }> {
    const fields = fieldsOf(options.template.parameters);
    const names = [...fields.map(f => f.name), 'mask'];
    const parsed = parseForm(fields, options.text);
    const [first] = Object.keys(parsed.errors);
    if (first) {
      return {
        jobs: [],
        problem: {
          error: 'Invalid parameter',
          detail: `${first}: ${parsed.errors[first]}`,
          field: first
        }
      };
    }
    try {
      const answer = await this.client.submit({
        template: options.template.name,
        catalog: options.catalog,
        uids: options.uids,
        parameters: parsed.values as Record<string, never>,
        mask: options.mask
      });
      this._merge(answer.jobs);
      return { jobs: answer.jobs, problem: null };
    } catch (error) {
      return { jobs: [], problem: toJobProblem(error, names) };
    }
  }

  async cancel(id: number): Promise<void> {
    await this._act(() => this.client.cancel(id));
  }
  async move(id: number, to: MoveTo): Promise<void> {
    await this._act(() => this.client.move(id, to));
    // Positions of other jobs changed too.
    await this.refresh();
  }
  async rerun(id: number): Promise<JobRecord | null> {
    return this._act(() => this.client.rerun(id));
  }

  /** Read a catalog's automatic-analysis switch (the one the queue section shows). */
  async loadAuto(catalog: string): Promise<void> {
    try {
      this._auto = await this.client.autoAnalysis(catalog);
    } catch (error) {
      this._auto = null;
      this._setProblem(toJobProblem(error));
    }
    this._autoChanged.emit();
  }

  async setAuto(catalog: string, enabled: boolean): Promise<void> {
    try {
      this._auto = await this.client.setAutoAnalysis(catalog, enabled);
    } catch (error) {
      this._setProblem(toJobProblem(error));
    }
    this._autoChanged.emit();
  }

  clearProblem(): void {
    this._setProblem(null);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  private async _act(
    call: () => Promise<JobRecord>
  ): Promise<JobRecord | null> {
    try {
      const record = await call();
      this._merge([record]);
      return record;
    } catch (error) {
      this._setProblem(toJobProblem(error));
      return null;
    }
  }

  private _onResync(): void {
    void this.refresh();
  }

  private _onJobEvent(_: IJobsClient, event: IJobEvent): void {
    const known = this.job(event.id);
    if (!known && event.reason === 'finished' && event.owner === this._user) {
      // Finished before this browser listed it (submitted elsewhere): still ours to announce.
      void this.client.job(event.id).then(record => {
        this._jobFinished.emit(record);
        return this.refresh();
      });
      return;
    }
    if (!known || event.reason === 'queued' || event.reason === 'moved') {
      // New to us, or the order changed: the server has the positions.
      void this.refresh();
      return;
    }
    const record: JobRecord = {
      ...known,
      state: event.state,
      cells_done: event.cells_done ?? known.cells_done,
      cells_total: event.cells_total ?? known.cells_total,
      heading: event.heading ?? known.heading,
      failure: event.failure === undefined ? known.failure : event.failure,
      cancel_requested:
        event.reason === 'cancel-requested' ? true : known.cancel_requested,
      started:
        event.reason === 'started' ? event.time : (known.started ?? null),
      finished:
        isFinal(event.state) && !isFinal(known.state)
          ? event.time
          : (known.finished ?? null)
    };
    this._replace(record);
    if (isFinal(record.state) && !isFinal(known.state)) {
      if (record.owner === this._user) {
        this._jobFinished.emit(record);
      }
      // It leaves the active part of the list for the finished part.
      void this.refresh();
    }
  }

  private _replace(record: JobRecord): void {
    const index = this._jobs.findIndex(j => j.id === record.id);
    if (index < 0) {
      return;
    }
    this._jobs = [
      ...this._jobs.slice(0, index),
      record,
      ...this._jobs.slice(index + 1)
    ];
    this._jobChanged.emit(record);
  }

  /** Put answers of actions in place (new jobs go to the end until the next refresh orders them). */
  private _merge(records: JobRecord[]): void {
    const fresh = records.filter(r => !this.job(r.id));
    for (const record of records) {
      if (this.job(record.id)) {
        this._replace(record);
      }
    }
    if (fresh.length) {
      this._setJobs([...this._jobs, ...fresh]);
    }
  }

  private _setJobs(jobs: JobRecord[]): void {
    const reordered = !sameOrder(this._jobs, jobs);
    const before = new Map(this._jobs.map(j => [j.id, j]));
    this._jobs = jobs;
    if (reordered) {
      this._jobsChanged.emit();
      return;
    }
    for (const job of jobs) {
      if (JSON.stringify(before.get(job.id)) !== JSON.stringify(job)) {
        this._jobChanged.emit(job);
      }
    }
  }

  private _setProblem(problem: IJobProblem | null): void {
    this._problem = problem;
    this._jobsChanged.emit();
  }

  private _jobs: JobRecord[] = [];
  private _templates: TemplateInfo[] = [];
  private _user: string | null = null;
  private _problem: IJobProblem | null = null;
  private _auto: AutoAnalysis | null = null;
  private _generation = 0;
  private _disposed = false;
  private _jobsChanged = new Signal<this, void>(this);
  private _jobChanged = new Signal<this, JobRecord>(this);
  private _templatesChanged = new Signal<this, void>(this);
  private _jobFinished = new Signal<this, JobRecord>(this);
  private _autoChanged = new Signal<this, void>(this);
}
