import { UseSignal } from '@jupyterlab/apputils';
import React from 'react';

import { ISidebarSection } from '../sidebar';
import { ColumnChooser } from './ColumnChooser';
import { MetadataPanels } from './MetadataPanels';
import { RunBrowserModel } from './model';
import { PreviewImage } from './PreviewImage';
import { RunTable } from './RunTable';
import { SearchBar } from './SearchBar';

/** Re-render `render` whenever the run browser model changes. */
export function Bound(props: {
  model: RunBrowserModel;
  render: (model: RunBrowserModel) => JSX.Element;
}): JSX.Element {
  return (
    <UseSignal signal={props.model.changed}>
      {() => props.render(props.model)}
    </UseSignal>
  );
}

/**
 * The sidebar's "Runs" and "Metadata" sections over one run browser model; `openMainArea` opens the
 * same table wide in the main area.
 */
export function runSections(
  model: RunBrowserModel,
  options: { openMainArea?: () => void } = {}
): ISidebarSection[] {
  return [
    {
      id: 'runs',
      title: 'Runs',
      render: () => (
        <Bound
          model={model}
          render={m => (
            <>
              <SearchBar model={m} />
              <ColumnChooser model={m} />
              <RunTable
                model={m}
                compact={true}
                onOpenMainArea={options.openMainArea}
              />
            </>
          )}
        />
      )
    },
    {
      id: 'metadata',
      title: 'Metadata',
      render: () => (
        <Bound
          model={model}
          render={m => (
            <>
              <MetadataPanels state={m.detail} />
              {m.detail.status === 'ready' && (
                <PreviewImage model={m} detail={m.detail.detail} />
              )}
            </>
          )}
        />
      )
    }
  ];
}
