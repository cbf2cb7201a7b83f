import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import React, { useState } from 'react';

import { isFinal } from './api';
import { JobPanelModel, IPanelFigure } from './panelModel';
import {
  IJobActions,
  JobProgress,
  elapsedOf,
  formatElapsed,
  useNow
} from './QueueSection';
import { formatTime } from '../runs/timeRange';

function Figure(props: {
  figure: IPanelFigure;
  onEnlarge: () => void;
}): JSX.Element {
  const { figure } = props;
  return (
    <figure className="jp-raydata-JobFigure" data-file={figure.file}>
      {figure.url ? (
        <img
          src={figure.url}
          alt={figure.heading || figure.file}
          title="Click to enlarge"
          onClick={props.onEnlarge}
        />
      ) : (
        <div className="jp-raydata-muted">Loading {figure.file}…</div>
      )}
      <figcaption>{figure.heading || figure.file}</figcaption>
    </figure>
  );
}

function PanelBody(props: {
  model: JobPanelModel;
  actions: IJobActions & {
    cancel: (id: number) => void;
    rerun: (id: number) => void;
  };
}): JSX.Element {
  const { model, actions } = props;
  const [enlarged, setEnlarged] = useState<string | null>(null);
  const job = model.record;
  const now = useNow(job?.state === 'running');
  if (!job) {
    return model.problem ? (
      <div className="jp-raydata-Error" role="alert">
        <strong>{model.problem.error}</strong>
        <p>{model.problem.detail}</p>
      </div>
    ) : (
      <p className="jp-raydata-muted">Loading job…</p>
    );
  }
  const elapsed = elapsedOf(job, now);
  const big = model.figures.find(f => f.file === enlarged);
  const status = model.status;
  return (
    <div className="jp-raydata-JobPanel-body">
      <header className="jp-raydata-JobPanel-header">
        <h2>
          {job.template} · scan {job.scan_id ?? job.uid.slice(0, 8)}
        </h2>
        <JobProgress job={job} />
        <span data-testid="job-cells">
          {job.cells_total
            ? `${job.cells_done} / ${job.cells_total} cells`
            : ''}
        </span>
        <span data-testid="job-elapsed">
          {elapsed === null ? '' : formatElapsed(elapsed)}
        </span>
      </header>
      <div className="jp-raydata-JobPanel-buttons">
        <button
          className="jp-mod-styled"
          disabled={job.state === 'queued'}
          onClick={() => actions.openNotebook(job.id)}
        >
          Open notebook
        </button>
        <button
          className="jp-mod-styled"
          disabled={!model.has('report.pdf')}
          title={
            model.has('report.pdf') ? undefined : 'This job wrote no report.pdf'
          }
          onClick={() => actions.openReport(job.id)}
        >
          Open report
        </button>
        {!isFinal(job.state) && (
          <button
            className="jp-mod-styled jp-mod-warn"
            onClick={() => actions.cancel(job.id)}
          >
            Cancel
          </button>
        )}
        {isFinal(job.state) && (
          <button
            className="jp-mod-styled"
            onClick={() => actions.rerun(job.id)}
          >
            Re-run
          </button>
        )}
      </div>
      {job.failure && (
        <div
          className="jp-raydata-Error"
          role="alert"
          data-testid="job-failure"
        >
          <strong>Failed</strong>
          <p>{job.failure}</p>
        </div>
      )}
      <dl className="jp-raydata-Fields">
        <dt>Catalog</dt>
        <dd>{job.catalog}</dd>
        <dt>Run</dt>
        <dd>{job.uid}</dd>
        {model.runFields.map(f => (
          <React.Fragment key={f.key}>
            <dt>{f.label}</dt>
            <dd>
              {f.key === 'time' && typeof f.value === 'number'
                ? formatTime(f.value)
                : typeof f.value === 'object'
                  ? JSON.stringify(f.value)
                  : String(f.value ?? '')}
            </dd>
          </React.Fragment>
        ))}
        <dt>Mask</dt>
        <dd>{job.mask ?? 'none'}</dd>
        <dt>Parameters</dt>
        <dd>
          <code>{JSON.stringify(job.parameters)}</code>
        </dd>
        <dt>Where</dt>
        <dd>
          {[
            status?.host || job.worker,
            status?.slurm_job_id && `Slurm ${status.slurm_job_id}`
          ]
            .filter(Boolean)
            .join(' · ') || '—'}
        </dd>
        <dt>Folder</dt>
        <dd>{model.folder ?? '—'}</dd>
      </dl>
      <h3>Figures</h3>
      <div className="jp-raydata-JobFigures" data-testid="job-figures">
        {model.figures.length === 0 && (
          <p className="jp-raydata-muted">
            {isFinal(job.state)
              ? 'No figures.'
              : 'Figures appear here as the notebook draws them.'}
          </p>
        )}
        {model.figures.map(figure => (
          <Figure
            key={figure.file}
            figure={figure}
            onEnlarge={() => setEnlarged(figure.file)}
          />
        ))}
      </div>
      <h3>Log</h3>
      <pre className="jp-raydata-JobLog" data-testid="job-log">
        {model.log || '—'}
      </pre>
      {big?.url && (
        <div
          className="jp-raydata-JobFigure-overlay"
          role="dialog"
          aria-label={big.heading || big.file}
          onClick={() => setEnlarged(null)}
        >
          <img src={big.url} alt={big.heading || big.file} />
          <div>{big.heading || big.file} (click to close)</div>
        </div>
      )}
    </div>
  );
}

/**
 * One job's live panel, the content of a main-area tab: state, progress, elapsed, the run, figures as
 * the notebook draws them, the log's tail, the failure, and the buttons to act on it.
 */
export class JobPanel extends ReactWidget {
  constructor(
    readonly model: JobPanelModel,
    private readonly _actions: IJobActions & {
      cancel: (id: number) => void;
      rerun: (id: number) => void;
    }
  ) {
    super();
    this.addClass('jp-raydata-JobPanel');
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <PanelBody model={this.model} actions={this._actions} />}
      </UseSignal>
    );
  }
}
