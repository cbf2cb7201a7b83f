import { IDisposable } from '@lumino/disposable';

import { IPanelField } from '../api';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IFigure,
  IFigureEvent,
  IJobStatusFile,
  isFinal,
  JobFiles,
  JobRecord
} from './api';
import { IJobsClient } from './client';
import { IJobProblem, JobsModel, toJobProblem } from './model';

/** Lines of log.txt the panel shows. */
export const LOG_LINES = 40;
/** The log is read again at most this often while a job runs. */
const LOG_EVERY_MS = 2_000;

/** A figure with the address of its image once loaded. */
export interface IPanelFigure extends IFigure {
  url: string | null;
}

/** The last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  const all = text.replace(/\n$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

/**
 * One job's panel: its record (kept by the jobs model), its folder, its figures in order with the
 * heading of the cell that drew each, and the tail of its log.
 *
 * Opened on a finished job it reads everything at once (status.json lists the figures); on a running
 * one, figure events add figures as the notebook draws them and progress events re-read the log.
 */
export class JobPanelModel implements IDisposable {
  constructor(
    readonly id: number,
    private readonly _jobs: JobsModel,
    private readonly _client: IJobsClient = _jobs.client
  ) {
    _jobs.jobChanged.connect(this._onJobChanged, this);
    _jobs.jobsChanged.connect(this._onJobsChanged, this);
    _client.figureEvent.connect(this._onFigure, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get record(): JobRecord | null {
    return this._record;
  }
  get figures(): ReadonlyArray<IPanelFigure> {
    return this._figures;
  }
  get log(): string {
    return this._log;
  }
  /** The job folder relative to the server root (what the file browser opens), once known. */
  get folder(): string | null {
    return this._files?.folder ?? null;
  }
  get files(): ReadonlyArray<string> {
    return this._files?.files.map(f => f.path) ?? [];
  }
  get status(): IJobStatusFile | null {
    return this._status;
  }
  get problem(): IJobProblem | null {
    return this._problem;
  }
  /** The run's general metadata (scan, sample, owner, …), once read. */
  get runFields(): ReadonlyArray<IPanelField> {
    return this._runFields;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Read the job, its files, figures and log. */
  async load(): Promise<void> {
    try {
      const record =
        this._jobs.job(this.id) ?? (await this._client.job(this.id));
      this._record = record;
      await Promise.all([
        this._readFolder(),
        this._client
          .runDetail(record.catalog, record.uid)
          .then(detail => {
            this._runFields =
              detail.panels.find(p => p.name === 'general')?.fields ?? [];
          })
          .catch(() => undefined)
      ]);
    } catch (error) {
      this._problem = toJobProblem(error);
    }
    this._changed.emit();
  }

  has(path: string): boolean {
    return this.files.includes(path);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._logTimer);
    for (const figure of this._figures) {
      if (figure.url) {
        URL.revokeObjectURL(figure.url);
      }
    }
    Signal.clearData(this);
  }

  private async _readFolder(): Promise<void> {
    if (!this._record || this._record.state === 'queued') {
      return;
    }
    this._files = await this._client.files(this.id);
    if (this.has('status.json')) {
      try {
        this._status = JSON.parse(
          await this._client.fileText(this.id, 'status.json')
        );
      } catch {
        // Being replaced right now: the next event brings it.
      }
    }
    const listed = this._status?.figures ?? [];
    const onDisk = this.files
      .filter(p => p.startsWith('figures/'))
      .map(p => p.slice('figures/'.length));
    for (const figure of listed) {
      this._addFigure(figure);
    }
    // Figures written after status.json was read, in name order (the runner numbers them).
    for (const file of onDisk.sort()) {
      this._addFigure({ file, cell: -1, heading: '' });
    }
    await this._readLog();
  }

  private async _readLog(): Promise<void> {
    if (!this.has('log.txt') && this._files) {
      this._files = await this._client.files(this.id);
    }
    if (!this.has('log.txt')) {
      return;
    }
    try {
      this._log = tail(
        await this._client.fileText(this.id, 'log.txt'),
        LOG_LINES
      );
    } catch {
      // Not there yet.
    }
  }

  private _addFigure(figure: IFigure): void {
    if (this._figures.some(f => f.file === figure.file)) {
      return;
    }
    const entry: IPanelFigure = { ...figure, url: null };
    this._figures = [...this._figures, entry];
    this._client
      .fileBlob(this.id, `figures/${figure.file}`)
      .then(blob => {
        if (this._disposed) {
          return;
        }
        const url = URL.createObjectURL(blob);
        this._figures = this._figures.map(f =>
          f.file === figure.file ? { ...f, url } : f
        );
        this._changed.emit();
      })
      .catch(() => undefined);
  }

  private _onFigure(_: IJobsClient, event: IFigureEvent): void {
    if (event.id !== this.id) {
      return;
    }
    this._addFigure({
      file: event.file,
      cell: event.cell ?? -1,
      heading: event.heading ?? ''
    });
    this._changed.emit();
  }

  private _onJobChanged(_: JobsModel, record: JobRecord): void {
    if (record.id !== this.id) {
      return;
    }
    const before = this._record;
    this._record = record;
    this._changed.emit();
    if (before?.state === 'queued' && record.state !== 'queued') {
      void this._readFolder().then(() => this._changed.emit());
    } else if (isFinal(record.state)) {
      // The last figures, the whole log and the report are there now.
      void this._readFolder().then(() => this._changed.emit());
    } else {
      this._scheduleLog();
    }
  }

  private _onJobsChanged(): void {
    const record = this._jobs.job(this.id);
    if (record && record !== this._record) {
      this._onJobChanged(this._jobs, record);
    }
  }

  private _scheduleLog(): void {
    if (this._logTimer !== undefined) {
      return;
    }
    this._logTimer = setTimeout(() => {
      this._logTimer = undefined;
      void this._readLog().then(() => this._changed.emit());
    }, LOG_EVERY_MS);
  }

  private _record: JobRecord | null = null;
  private _files: JobFiles | null = null;
  private _status: IJobStatusFile | null = null;
  private _figures: IPanelFigure[] = [];
  private _log = '';
  private _runFields: IPanelField[] = [];
  private _problem: IJobProblem | null = null;
  private _logTimer: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}
