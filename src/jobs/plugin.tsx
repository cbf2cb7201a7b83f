import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, Notification, UseSignal } from '@jupyterlab/apputils';
import React from 'react';

import { MaskLibraryModel } from '../masks/model';
import { RunBrowserModel } from '../runs/model';
import { ISidebarSection } from '../sidebar';
import { AnalysisSection } from './AnalysisSection';
import { JobsClient } from './client';
import { JobPanel } from './JobPanel';
import { JobsModel } from './model';
import { JobPanelModel } from './panelModel';
import { IJobActions, QueueSection } from './QueueSection';

export const OPEN_JOB = 'raydata:open-job';
export const OPEN_JOB_NOTEBOOK = 'raydata:open-job-notebook';
export const OPEN_JOB_REPORT = 'raydata:open-job-report';

/**
 * Jobs in the lab: the client and models, the "Analysis" and "Queue" sidebar sections, a job panel
 * per job in the main area, notifications when my jobs finish, and the run table kept live by the
 * "runs changed" event with each run's latest job state.
 */
export function setupJobs(
  app: JupyterFrontEnd,
  runs: RunBrowserModel,
  library: MaskLibraryModel
): { model: JobsModel; sections: ISidebarSection[] } {
  const client = new JobsClient({ events: app.serviceManager.events });
  const model = new JobsModel(client);
  const panels = new Map<number, MainAreaWidget<JobPanel>>();

  const folderOf = async (id: number): Promise<string | null> =>
    (await client.files(id)).folder;
  const openFile = async (id: number, name: string, factory?: string) => {
    try {
      const folder = await folderOf(id);
      if (!folder) {
        throw new Error(`Job ${id} has not started: it has no folder yet.`);
      }
      await app.commands.execute('docmanager:open', {
        path: `${folder}/${name}`,
        ...(factory ? { factory } : {})
      });
    } catch (error) {
      Notification.error(`Cannot open ${name} of job ${id}: ${error}`, {
        autoClose: 6000
      });
    }
  };

  const actions: IJobActions & {
    cancel: (id: number) => void;
    rerun: (id: number) => void;
  } = {
    openPanel: id => void app.commands.execute(OPEN_JOB, { id }),
    openNotebook: id => void app.commands.execute(OPEN_JOB_NOTEBOOK, { id }),
    openReport: id => void app.commands.execute(OPEN_JOB_REPORT, { id }),
    cancel: id => void model.cancel(id),
    rerun: id =>
      void model.rerun(id).then(record => {
        if (record) {
          actions.openPanel(record.id);
        }
      })
  };

  app.commands.addCommand(OPEN_JOB, {
    label: 'Open a job panel',
    caption: "A job's live figures, progress and log",
    execute: args => {
      const id = Number(args.id);
      let widget = panels.get(id);
      if (!widget || widget.isDisposed) {
        const panelModel = new JobPanelModel(id, model);
        const content = new JobPanel(panelModel, actions);
        widget = new MainAreaWidget({ content });
        widget.id = `jp-raydata-job-${id}`;
        widget.title.label = `Job ${id}`;
        widget.title.closable = true;
        panels.set(id, widget);
        app.shell.add(widget, 'main');
        void panelModel.load().then(() => {
          const job = panelModel.record;
          if (job && widget) {
            widget.title.label = `${job.template} · ${job.scan_id ?? job.uid.slice(0, 8)}`;
            widget.title.caption = `Job ${id}`;
          }
        });
      }
      app.shell.activateById(widget.id);
    }
  });
  app.commands.addCommand(OPEN_JOB_NOTEBOOK, {
    label: "Open a job's executed notebook",
    execute: args => openFile(Number(args.id), 'notebook.ipynb', 'Notebook')
  });
  app.commands.addCommand(OPEN_JOB_REPORT, {
    label: "Open a job's PDF report",
    execute: args => openFile(Number(args.id), 'report.pdf')
  });

  model.jobFinished.connect((_, job) => {
    const text = `Job ${job.id} (${job.template}, scan ${job.scan_id ?? job.uid.slice(0, 8)})`;
    const options = {
      autoClose: 10_000 as const,
      actions: [
        {
          label: 'Open panel',
          callback: () => actions.openPanel(job.id)
        }
      ]
    };
    if (job.state === 'completed') {
      Notification.success(`${text} completed`, options);
    } else if (job.state === 'failed') {
      Notification.error(`${text} failed: ${job.failure ?? ''}`, options);
    }
  });

  // The run table: new runs by push, and each run's latest job state.
  client.runsChanged.connect((_, event) => runs.runsChanged(event.catalog));
  const showJobStates = () => {
    const states = new Map<string, string>();
    for (const [uid, job] of model.latestByRun()) {
      states.set(uid, job.state);
    }
    runs.setJobStates(states);
  };
  model.jobsChanged.connect(showJobStates);
  model.jobChanged.connect(showJobStates);

  const sections: ISidebarSection[] = [
    {
      id: 'analysis',
      title: 'Analysis',
      render: () => (
        <UseSignal signal={model.templatesChanged}>
          {() => (
            <UseSignal signal={runs.changed}>
              {() => (
                <UseSignal signal={library.changed}>
                  {() => (
                    <AnalysisSection
                      jobs={model}
                      runs={runs}
                      masks={library.masks.map(m => m.name)}
                    />
                  )}
                </UseSignal>
              )}
            </UseSignal>
          )}
        </UseSignal>
      )
    },
    {
      id: 'queue',
      title: 'Queue',
      render: () => (
        <UseSignal signal={model.jobsChanged}>
          {() => (
            <UseSignal signal={model.jobChanged}>
              {() => (
                <UseSignal signal={model.autoChanged}>
                  {() => (
                    <UseSignal signal={runs.changed}>
                      {() => (
                        <QueueSection
                          jobs={model}
                          catalog={runs.catalog}
                          actions={actions}
                        />
                      )}
                    </UseSignal>
                  )}
                </UseSignal>
              )}
            </UseSignal>
          )}
        </UseSignal>
      )
    }
  ];
  void app.restored.then(() => model.initialize());
  return { model, sections };
}
