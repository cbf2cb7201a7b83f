import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  UseSignal
} from '@jupyterlab/apputils';
import React from 'react';

import { RunBrowserModel } from '../runs/model';
import { ISidebarSection } from '../sidebar';
import { ComposerWidget } from './Composer';
import { MasksSection } from './MaskList';
import { MaskComposerModel, MaskLibraryModel } from './model';

export const OPEN_COMPOSER = 'raydata:open-mask-composer';

/**
 * The mask composer's command (a main-area tab per run or saved mask) and the sidebar's "Masks"
 * section.
 *
 * The command takes `{catalog, uid, key?}` to start on a run, or `{mask}` to edit a saved mask.
 */
export function setupMasks(
  app: JupyterFrontEnd,
  runs: RunBrowserModel,
  palette: ICommandPalette | null
): { library: MaskLibraryModel; sections: ISidebarSection[] } {
  const library = new MaskLibraryModel();
  app.commands.addCommand(OPEN_COMPOSER, {
    label: 'Open the mask composer',
    caption: 'Draw, threshold and partition a mask on a run',
    execute: args => {
      const model = new MaskComposerModel(library);
      const content = new ComposerWidget(model);
      const widget = new MainAreaWidget({ content });
      const mask = args.mask as string | undefined;
      const detail = runs.detail;
      // From the palette, with no run named: the run shown in the sidebar's Metadata.
      if (!mask && !args.uid && detail.status === 'ready' && runs.catalog) {
        args = { catalog: runs.catalog, uid: detail.uid };
      }
      widget.id = `jp-raydata-composer-${Date.now().toString(36)}`;
      widget.title.label = mask ? `Mask ${mask}` : 'Mask composer';
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      if (mask) {
        void model.openSaved(mask);
      } else if (args.catalog && args.uid) {
        void model
          .openRun({
            catalog: args.catalog as string,
            uid: args.uid as string,
            key: (args.key as string | undefined) ?? null
          })
          .then(() => {
            const scan = model.info?.scan_id;
            widget.title.label = scan ? `Mask · scan ${scan}` : 'Mask composer';
          });
      }
    }
  });
  palette?.addItem({ command: OPEN_COMPOSER, category: 'Raydata', args: {} });
  // The Analysis section's mask picker lists the library too, whether this section is open or not.
  void app.restored.then(() => library.refresh());
  const sections: ISidebarSection[] = [
    {
      id: 'masks',
      title: 'Masks',
      render: () => (
        <UseSignal signal={library.changed}>
          {() => (
            <UseSignal signal={runs.changed}>
              {() => (
                <MasksSection
                  library={library}
                  runs={runs}
                  onCompose={(catalog, uid) =>
                    void app.commands.execute(OPEN_COMPOSER, { catalog, uid })
                  }
                  onOpen={name =>
                    void app.commands.execute(OPEN_COMPOSER, { mask: name })
                  }
                />
              )}
            </UseSignal>
          )}
        </UseSignal>
      )
    }
  ];
  return { library, sections };
}
