import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStateDB } from '@jupyterlab/statedb';

import { RaydataModel } from './model';
import { RunBrowserModel } from './runs/model';
import { setupMasks } from './masks/plugin';
import { setupJobs } from './jobs/plugin';
import { runSections } from './runs/sections';
import { RaydataSidebar } from './sidebar';
import { RunBrowserPanel } from './runs/RunBrowserPanel';

/** Command ids the extension registers. */
export namespace CommandIDs {
  export const openSidebar = 'raydata:open-sidebar';
  export const openRunBrowser = 'raydata:open-run-browser';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-raydata:plugin',
  description:
    'A sidebar to find runs, compose masks and run XPCS analysis notebooks.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    state: IStateDB | null
  ) => {
    const model = new RaydataModel();
    const runs = new RunBrowserModel({ state });
    const masks = setupMasks(app, runs, palette);
    const jobs = setupJobs(app, runs, masks.library);
    const sidebar = new RaydataSidebar(model, [
      ...runSections(runs, {
        openMainArea: () => void app.commands.execute(CommandIDs.openRunBrowser)
      }),
      ...jobs.sections,
      ...masks.sections
    ]);
    sidebar.disposed.connect(() => runs.dispose());
    app.shell.add(sidebar, 'left', { rank: 250 });
    restorer?.add(sidebar, sidebar.id);

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the Raydata sidebar',
      caption: 'Find runs, compose masks and run analyses',
      execute: () => app.shell.activateById(sidebar.id)
    });
    palette?.addItem({ command: CommandIDs.openSidebar, category: 'Raydata' });

    // The wide run table: one panel at a time, sharing the sidebar's model.
    let wide: RunBrowserPanel | null = null;
    app.commands.addCommand(CommandIDs.openRunBrowser, {
      label: 'Open the run browser in the main area',
      caption:
        'The run table at full width, sharing the sidebar search and selection',
      execute: () => {
        if (!wide || wide.isDisposed) {
          wide = new RunBrowserPanel(runs);
          app.shell.add(wide, 'main');
        }
        app.shell.activateById(wide.id);
      }
    });
    palette?.addItem({
      command: CommandIDs.openRunBrowser,
      category: 'Raydata'
    });

    void model.refresh();
    void app.restored.then(() => runs.initialize());
  }
};

export default plugin;
