/**
 * The job API's shapes, taken from the types generated from docs/openapi.json (`jlpm api:types`;
 * `jlpm lint:check` fails when they are out of date), so the front end and the server cannot drift.
 * The event payloads are not REST answers: they mirror jupyterlab_raydata/jobs/events.py.
 */
import type { components } from './openapi';

type Schemas = components['schemas'];

export type JobRecord = Schemas['JobRecord'];
export type JobState = JobRecord['state'];
export type JobPage = Schemas['JobPage'];
export type JobList = Schemas['JobList'];
export type JobFiles = Schemas['JobFiles'];
export type SubmitRequest = Schemas['SubmitRequest'];
export type MoveRequest = Schemas['MoveRequest'];
export type MoveTo = MoveRequest['to'];
export type TemplateInfo = Schemas['TemplateInfo'];
export type TemplateList = Schemas['TemplateList'];
export type AutoAnalysis = Schemas['AutoAnalysis'];
export type Health = Schemas['Health'];

/** States after which a job changes no more. */
export const FINAL_STATES: ReadonlyArray<JobState> = [
  'completed',
  'failed',
  'cancelled'
];

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

const EVENTS = 'https://jupyterlab-raydata.readthedocs.io/events';

/** The `schema_id`s of Raydata's events on the Jupyter Server event bus. */
export const SCHEMA = {
  job: `${EVENTS}/job`,
  figure: `${EVENTS}/job-figure`,
  runsChanged: `${EVENTS}/runs-changed`
} as const;

/** A job was queued, moved, started, made progress, finished or was asked to stop. */
export interface IJobEvent {
  id: number;
  owner: string;
  catalog?: string;
  uid?: string;
  template?: string;
  state: JobState;
  reason:
    | 'queued'
    | 'moved'
    | 'started'
    | 'progress'
    | 'finished'
    | 'cancel-requested';
  cells_done?: number;
  cells_total?: number;
  heading?: string;
  failure?: string | null;
  time: number;
}

/** A job wrote a new figure (its file name under figures/). */
export interface IFigureEvent {
  id: number;
  owner: string;
  file: string;
  cell?: number;
  heading?: string;
  time: number;
}

/** A catalog sync found new runs or runs that finished. */
export interface IRunsChangedEvent {
  catalog: string;
  added?: number;
  finished?: number;
  time: number;
}

/** One figure of a job as status.json lists it. */
export interface IFigure {
  file: string;
  cell: number;
  heading: string;
}

/** The part of a job's status.json the panel shows. */
export interface IJobStatusFile {
  figures?: IFigure[];
  host?: string;
  slurm_job_id?: string | null;
  threads?: number | null;
  failure?: string | null;
}
