import React, { useEffect, useState } from 'react';

import { isFinal, JobRecord } from './api';
import { JobsModel } from './model';

/** What the queue's row buttons do (the plugin opens panels and documents). */
export interface IJobActions {
  openPanel: (id: number) => void;
  openNotebook: (id: number) => void;
  openReport: (id: number) => void;
}

/** `1:05`, `1:02:03` */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** `03-05 14:30` in the browser's zone. */
export function formatClock(epoch: number | null | undefined): string {
  if (!epoch) {
    return '';
  }
  const d = new Date(epoch * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function elapsedOf(job: JobRecord, now: number): number | null {
  if (!job.started) {
    return null;
  }
  return (job.finished ?? now) - job.started;
}

/** A job's state with its progress bar and the section running now. */
export function JobProgress(props: { job: JobRecord }): JSX.Element {
  const { job } = props;
  const fraction = job.cells_total ? job.cells_done / job.cells_total : 0;
  return (
    <div
      className={`jp-raydata-JobState jp-raydata-mod-${job.state}`}
      data-state={job.state}
    >
      <span className="jp-raydata-JobState-label">
        {job.cancel_requested && !isFinal(job.state) ? 'stopping' : job.state}
      </span>
      {job.state === 'running' && (
        <>
          <progress
            max={job.cells_total || 1}
            value={job.cells_done}
            aria-label={`${Math.round(fraction * 100)} % of cells done`}
          />
          {job.heading && (
            <span className="jp-raydata-JobState-heading" title={job.heading}>
              {job.heading}
            </span>
          )}
        </>
      )}
    </div>
  );
}

/** Seconds since the epoch, ticking once a second while `active`. */
export function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now() / 1000);
  useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function RowActions(props: {
  job: JobRecord;
  jobs: JobsModel;
  actions: IJobActions;
  mine: boolean;
}): JSX.Element {
  const { job, jobs, actions, mine } = props;
  const button = (
    label: string,
    text: string,
    onClick: () => void,
    enabled = true
  ) => (
    <button
      className="jp-raydata-IconButton"
      title={label}
      aria-label={label}
      disabled={!enabled}
      onClick={onClick}
    >
      {text}
    </button>
  );
  const queued = job.state === 'queued';
  const started = job.state !== 'queued';
  return (
    <span className="jp-raydata-JobActions">
      {mine &&
        !isFinal(job.state) &&
        button('Cancel', '✕', () => void jobs.cancel(job.id))}
      {mine &&
        queued &&
        button('Move to top', '⤒', () => void jobs.move(job.id, 'top'))}
      {mine &&
        queued &&
        button('Move to bottom', '⤓', () => void jobs.move(job.id, 'bottom'))}
      {mine &&
        isFinal(job.state) &&
        button('Re-run', '↻', () => void jobs.rerun(job.id))}
      {mine && button('Open panel', '▤', () => actions.openPanel(job.id))}
      {mine &&
        button(
          'Open notebook',
          'nb',
          () => actions.openNotebook(job.id),
          started
        )}
      {mine &&
        button(
          'Open report',
          'pdf',
          () => actions.openReport(job.id),
          job.state === 'completed'
        )}
    </span>
  );
}

/**
 * The sidebar's "Queue" section: jobs with their state, progress and times, mine first (a toggle
 * shows everyone's), the actions a row allows, and the catalog's automatic-analysis switch.
 */
export function QueueSection(props: {
  jobs: JobsModel;
  catalog: string | null;
  actions: IJobActions;
}): JSX.Element {
  const { jobs, catalog, actions } = props;
  const [everyone, setEveryone] = useState(false);
  const shown = jobs.visibleJobs(everyone);
  const now = useNow(shown.some(j => j.state === 'running'));

  useEffect(() => {
    if (catalog) {
      void jobs.loadAuto(catalog);
    }
  }, [catalog]);

  const auto = jobs.auto && jobs.auto.catalog === catalog ? jobs.auto : null;
  const pipelines = auto ? Object.entries(auto.pipelines) : [];
  return (
    <div className="jp-raydata-Queue">
      <label className="jp-raydata-Queue-toggle">
        <input
          type="checkbox"
          checked={everyone}
          onChange={e => setEveryone(e.target.checked)}
        />
        Everyone&apos;s jobs
      </label>
      {jobs.problem && (
        <div className="jp-raydata-Error" role="alert">
          <strong>{jobs.problem.error}</strong>
          {jobs.problem.detail && <p>{jobs.problem.detail}</p>}
          <button className="jp-mod-styled" onClick={() => jobs.clearProblem()}>
            Dismiss
          </button>
        </div>
      )}
      <div className="jp-raydata-Queue-scroll">
        <table className="jp-raydata-Queue-table" data-testid="job-table">
          <thead>
            <tr>
              <th>Scan</th>
              <th>Template</th>
              <th>Owner</th>
              <th>State</th>
              <th>Created</th>
              <th>Started</th>
              <th>Elapsed</th>
              <th>
                <span className="jp-raydata-visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map(job => {
              const elapsed = elapsedOf(job, now);
              const mine = job.owner === jobs.user;
              return (
                <tr
                  key={job.id}
                  data-job={job.id}
                  data-scan={job.scan_id ?? ''}
                  className={mine ? 'jp-raydata-mod-mine' : undefined}
                  onDoubleClick={() => mine && actions.openPanel(job.id)}
                >
                  <td>{job.scan_id ?? job.uid.slice(0, 8)}</td>
                  <td>{job.template}</td>
                  <td>{job.owner}</td>
                  <td>
                    <JobProgress job={job} />
                  </td>
                  <td>{formatClock(job.created)}</td>
                  <td>{formatClock(job.started)}</td>
                  <td>{elapsed === null ? '' : formatElapsed(elapsed)}</td>
                  <td>
                    <RowActions
                      job={job}
                      jobs={jobs}
                      actions={actions}
                      mine={mine}
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {shown.length === 0 && (
          <p className="jp-raydata-muted">
            {everyone ? 'No jobs.' : 'No jobs of yours.'}
          </p>
        )}
      </div>
      {catalog && (
        <div className="jp-raydata-Auto">
          <label>
            <input
              type="checkbox"
              aria-label="Automatic analysis"
              checked={auto?.enabled ?? false}
              disabled={!auto}
              onChange={e => void jobs.setAuto(catalog, e.target.checked)}
            />
            Analyse new runs of <strong>{catalog}</strong> automatically
          </label>
          <div className="jp-raydata-Param-help">
            {pipelines.length
              ? pipelines.map(([pattern, template]) => (
                  <div key={pattern}>
                    runs with auto_pipeline <code>{pattern}</code> →{' '}
                    <code>{template}</code>
                  </div>
                ))
              : 'No template serves any auto_pipeline: nothing would run.'}
          </div>
        </div>
      )}
    </div>
  );
}
