import { Signal, Stream } from '@lumino/signaling';

import { RaydataAPIError } from '../request';
import {
  IFigureEvent,
  IJobEvent,
  IRunsChangedEvent,
  JobRecord,
  SCHEMA,
  TemplateInfo
} from '../jobs/api';
import { IJobQuery, IJobsClient, JobsClient } from '../jobs/client';
import { JobsModel } from '../jobs/model';
import { JobPanelModel, tail } from '../jobs/panelModel';

function record(id: number, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    owner: 'alice',
    catalog: 'demo',
    uid: `uid-${id}`,
    scan_id: 100 + id,
    template: 'quick_look',
    parameters: {},
    mask: null,
    state: 'queued',
    position: id,
    created: 1000 + id,
    started: null,
    finished: null,
    cells_done: 0,
    cells_total: 0,
    heading: '',
    worker: null,
    folder: null,
    failure: null,
    attempts: 0,
    rerun_of: null,
    auto: false,
    cancel_requested: false,
    server_id: null,
    ...extra
  };
}

const TEMPLATE: TemplateInfo = {
  name: 'quick_look',
  title: 'Quick look',
  description: '',
  kernel: 'python3',
  path: '/t/quick_look.ipynb',
  source: '/t',
  error: null,
  parameters: {
    type: 'object',
    properties: { max_frames: { type: 'integer', default: 0, minimum: 0 } }
  }
};

/** An in-memory queue answering as the server does, with the events it would push. */
class FakeClient implements IJobsClient {
  jobEvent: Signal<IJobsClient, IJobEvent> = new Signal(this);
  figureEvent: Signal<IJobsClient, IFigureEvent> = new Signal(this);
  runsChanged: Signal<IJobsClient, IRunsChangedEvent> = new Signal(this);
  resync: Signal<IJobsClient, void> = new Signal(this);
  store: JobRecord[] = [];
  files_: Record<string, string> = {};
  submitted: unknown[] = [];
  listCalls = 0;
  refuse: RaydataAPIError | null = null;

  async user() {
    return 'alice';
  }
  async templates() {
    return { templates: [TEMPLATE] };
  }
  async jobs(query: IJobQuery) {
    this.listCalls++;
    const states = (query.state ?? '').split(',');
    const jobs = this.store.filter(j => states.includes(j.state));
    return { jobs, total: jobs.length, offset: 0 };
  }
  async job(id: number) {
    return this.store.find(j => j.id === id)!;
  }
  async submit(request: any) {
    if (this.refuse) {
      throw this.refuse;
    }
    this.submitted.push(request);
    const jobs = request.uids.map((uid: string, i: number) =>
      record(this.store.length + i + 1, { uid })
    );
    this.store.push(...jobs);
    return { jobs };
  }
  async cancel(id: number) {
    return this.job(id);
  }
  async move(id: number) {
    return this.job(id);
  }
  async rerun(id: number) {
    return this.job(id);
  }
  async files(id: number) {
    return {
      id,
      folder: 'raydata-results/demo/job',
      files: Object.keys(this.files_).map(path => ({
        path,
        size: 1,
        modified: 0
      }))
    };
  }
  async fileText(id: number, path: string) {
    return this.files_[path];
  }
  async fileBlob(id: number, path: string) {
    return new Blob([this.files_[path] ?? '']);
  }
  async autoAnalysis(catalog: string) {
    return { catalog, enabled: false, pipelines: { 'XPCS*': 'xpcs_saxs' } };
  }
  async runDetail(catalog: string, uid: string) {
    return {
      uid,
      panels: [
        {
          name: 'general',
          title: 'General',
          fields: [{ key: 'sample', label: 'Sample', value: 'silica' }]
        }
      ],
      start: {},
      stop: null,
      streams: [],
      image_keys: []
    };
  }
  async setAutoAnalysis(catalog: string, enabled: boolean) {
    return { catalog, enabled, pipelines: { 'XPCS*': 'xpcs_saxs' } };
  }
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

function event(job: JobRecord, extra: Partial<IJobEvent>): IJobEvent {
  return {
    id: job.id,
    owner: job.owner,
    state: job.state,
    reason: 'progress',
    time: 5000,
    ...extra
  };
}

describe('JobsModel', () => {
  let client: FakeClient;
  let model: JobsModel;

  beforeEach(async () => {
    client = new FakeClient();
    client.store = [
      record(1, { state: 'running', started: 1100 }),
      record(2),
      record(3, { owner: 'bob' }),
      record(4, { state: 'completed', finished: 1500 })
    ];
    model = new JobsModel(client);
    await model.initialize();
  });

  it('lists active jobs in queue order, then finished ones, and knows who "mine" is', () => {
    expect(model.user).toBe('alice');
    expect(model.jobs.map(j => j.id)).toEqual([1, 2, 3, 4]);
    expect(model.templates.map(t => t.name)).toEqual(['quick_look']);
  });

  it('shows mine first, or only mine', () => {
    client.store = [record(3, { owner: 'bob' }), record(2), record(1)];
    return model.refresh().then(() => {
      expect(model.visibleJobs(true).map(j => j.id)).toEqual([2, 1, 3]);
      expect(model.visibleJobs(false).map(j => j.id)).toEqual([2, 1]);
    });
  });

  it('applies a progress event to one job and says which, without re-reading', () => {
    const changed: JobRecord[] = [];
    let listChanged = 0;
    model.jobChanged.connect((_, job) => changed.push(job));
    model.jobsChanged.connect(() => listChanged++);
    const calls = client.listCalls;
    client.jobEvent.emit(
      event(model.jobs[0], {
        state: 'running',
        cells_done: 3,
        cells_total: 9,
        heading: 'I(q)'
      })
    );
    expect(
      changed.map(j => [j.id, j.cells_done, j.cells_total, j.heading])
    ).toEqual([[1, 3, 9, 'I(q)']]);
    expect(listChanged).toBe(0);
    expect(client.listCalls).toBe(calls);
  });

  it('re-reads the queue when a job is queued or moved, and when the stream reconnects', async () => {
    const calls = client.listCalls;
    client.store.push(record(5));
    client.jobEvent.emit(event(client.store[4], { reason: 'queued' }));
    await flush();
    expect(model.jobs.map(j => j.id)).toEqual([1, 2, 3, 5, 4]);
    client.resync.emit();
    await flush();
    // Two queries per refresh: active and finished.
    expect(client.listCalls).toBe(calls + 4);
  });

  it("announces my finished jobs, not other users'", async () => {
    const finished: number[] = [];
    model.jobFinished.connect((_, job) => finished.push(job.id));
    client.jobEvent.emit(
      event(model.jobs[0], { state: 'completed', reason: 'finished' })
    );
    client.jobEvent.emit(
      event(model.jobs[2], { state: 'failed', reason: 'finished' })
    );
    expect(finished).toEqual([1]);
    expect(model.job(1)!.finished).toBe(5000);
  });

  it('keeps the latest job of each run for the run table', () => {
    client.store.push(record(9, { uid: 'uid-1', created: 9999 }));
    return model.refresh().then(() => {
      const latest = model.latestByRun();
      expect(latest.get('uid-1')!.id).toBe(9);
      expect(latest.get('uid-2')!.id).toBe(2);
    });
  });

  it('submits the parsed form and refuses a bad one before asking the server', async () => {
    const ok = await model.submit({
      template: TEMPLATE,
      catalog: 'demo',
      uids: ['a', 'b'],
      text: { max_frames: '40' },
      mask: null
    });
    expect(ok.problem).toBeNull();
    expect(ok.jobs.map(j => j.uid)).toEqual(['a', 'b']);
    expect(client.submitted).toEqual([
      {
        template: 'quick_look',
        catalog: 'demo',
        uids: ['a', 'b'],
        parameters: { max_frames: 40 },
        mask: null
      }
    ]);
    const bad = await model.submit({
      template: TEMPLATE,
      catalog: 'demo',
      uids: ['a'],
      text: { max_frames: '-1' },
      mask: null
    });
    expect(bad.problem).toEqual({
      error: 'Invalid parameter',
      detail: 'max_frames: must be at least 0',
      field: 'max_frames'
    });
    expect(client.submitted).toHaveLength(1);
  });

  it('puts a server refusal beside the field it names', async () => {
    client.refuse = new RaydataAPIError(
      400,
      'Mask does not fit',
      "Mask 'small' is 10x10 but run 7 (abcdef12) has 20x20 detector frames."
    );
    const answer = await model.submit({
      template: TEMPLATE,
      catalog: 'demo',
      uids: ['a'],
      text: {},
      mask: 'small'
    });
    expect(answer.problem!.field).toBe('mask');
  });
});

describe('JobPanelModel', () => {
  it('shows a finished job at once: figures in order with their headings, the log tail', async () => {
    const client = new FakeClient();
    client.store = [record(1, { state: 'completed' })];
    client.files_ = {
      'status.json': JSON.stringify({
        figures: [
          { file: '001.png', cell: 4, heading: 'Frame sums' },
          { file: '002.png', cell: 6, heading: 'Average image' }
        ]
      }),
      'figures/001.png': 'png',
      'figures/002.png': 'png',
      'log.txt': Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n')
    };
    const jobs = new JobsModel(client);
    await jobs.initialize();
    const panel = new JobPanelModel(1, jobs);
    await panel.load();
    expect(panel.figures.map(f => [f.file, f.heading])).toEqual([
      ['001.png', 'Frame sums'],
      ['002.png', 'Average image']
    ]);
    expect(panel.folder).toBe('raydata-results/demo/job');
    expect(panel.runFields.map(f => [f.label, f.value])).toEqual([
      ['Sample', 'silica']
    ]);
    expect(panel.log.split('\n')).toHaveLength(40);
    expect(panel.log.split('\n')[0]).toBe('line 20');
  });

  it('adds figures of its own job as they arrive, and no others', async () => {
    const client = new FakeClient();
    client.store = [record(1, { state: 'running' })];
    client.files_ = { 'figures/a.png': 'x' };
    const jobs = new JobsModel(client);
    await jobs.initialize();
    const panel = new JobPanelModel(1, jobs);
    await panel.load();
    client.figureEvent.emit({
      id: 1,
      owner: 'alice',
      file: 'b.png',
      cell: 3,
      heading: 'I(q)',
      time: 1
    });
    client.figureEvent.emit({
      id: 2,
      owner: 'alice',
      file: 'c.png',
      time: 1
    });
    expect(panel.figures.map(f => [f.file, f.heading])).toEqual([
      ['a.png', ''],
      ['b.png', 'I(q)']
    ]);
  });

  it('tails text', () => {
    expect(tail('a\nb\nc\n', 2)).toBe('b\nc');
  });
});

describe('JobsClient', () => {
  it('sorts the bus emissions by schema id and ignores other schemas', () => {
    const stream = new Stream<any, any>({});
    const client = new JobsClient({ events: { stream } as any });
    const seen: string[] = [];
    client.jobEvent.connect((_, e) => seen.push(`job ${e.id}`));
    client.figureEvent.connect((_, e) => seen.push(`figure ${e.file}`));
    client.runsChanged.connect((_, e) => seen.push(`runs ${e.catalog}`));
    stream.emit({ schema_id: SCHEMA.job, id: 3, state: 'queued' });
    stream.emit({ schema_id: SCHEMA.figure, id: 3, file: 'f.png' });
    stream.emit({ schema_id: SCHEMA.runsChanged, catalog: 'beamline' });
    stream.emit({ schema_id: 'https://events.jupyter.org/other', id: 1 });
    expect(seen).toEqual(['job 3', 'figure f.png', 'runs beamline']);
    client.dispose();
  });

  it('re-reads after the stream reconnects, and falls back to slow refreshes only while it is down', () => {
    jest.useFakeTimers();
    const stream = new Stream<any, any>({});
    const ticked = new Signal<any, any>({});
    const client = new JobsClient({
      events: { stream, _poll: { ticked } } as any
    });
    let resyncs = 0;
    client.resync.connect(() => resyncs++);
    expect(client.streamUp).toBe(true);
    jest.advanceTimersByTime(120_000);
    expect(resyncs).toBe(0);

    // The socket closed; the event manager tries again in 1 s.
    ticked.emit({ phase: 'rejected', interval: 1000 });
    expect(client.streamUp).toBe(false);
    jest.advanceTimersByTime(2600);
    expect(client.streamUp).toBe(true);
    const afterReconnect = resyncs;
    expect(afterReconnect).toBeGreaterThanOrEqual(1);

    // Down for long: the fallback refreshes until an event proves the stream is back.
    ticked.emit({ phase: 'rejected', interval: 600_000 });
    jest.advanceTimersByTime(65_000);
    const whileDown = resyncs - afterReconnect;
    expect(whileDown).toBeGreaterThanOrEqual(3);
    stream.emit({ schema_id: SCHEMA.runsChanged, catalog: 'demo' });
    expect(client.streamUp).toBe(true);
    const back = resyncs;
    jest.advanceTimersByTime(120_000);
    expect(resyncs).toBe(back);
    client.dispose();
    jest.useRealTimers();
  });
});
