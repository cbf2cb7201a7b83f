import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStateDB } from '@jupyterlab/statedb';

import { RaydataModel } from './model';
import { RunBrowserModel } from './runs/model';
import { runSections } from './runs/sections';
import { RaydataSidebar } from './sidebar';

/** Command ids the extension registers. */
export namespace CommandIDs {
  export const openSidebar = 'raydata:open-sidebar';
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
    const sidebar = new RaydataSidebar(model, runSections(runs));
    sidebar.disposed.connect(() => runs.dispose());
    app.shell.add(sidebar, 'left', { rank: 250 });
    restorer?.add(sidebar, sidebar.id);

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the Raydata sidebar',
      caption: 'Find runs, compose masks and run analyses',
      execute: () => app.shell.activateById(sidebar.id)
    });
    palette?.addItem({ command: CommandIDs.openSidebar, category: 'Raydata' });

    void model.refresh();
    void app.restored.then(() => runs.initialize());
  }
};

export default plugin;
