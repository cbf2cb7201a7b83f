import { ReactWidget } from '@jupyterlab/apputils';
import React from 'react';

import { raydataIcon } from '../icon';
import { ColumnChooser } from './ColumnChooser';
import { RunBrowserModel } from './model';
import { RunTable } from './RunTable';
import { SearchBar } from './SearchBar';
import { Bound } from './sections';

/**
 * The run browser as a wide main-area panel: the same model as the sidebar's (catalog, search, sort,
 * columns and selection are one state), with every chosen column at full width.
 */
export class RunBrowserPanel extends ReactWidget {
  constructor(readonly model: RunBrowserModel) {
    super();
    this.id = 'jp-raydata-run-browser';
    this.addClass('jp-raydata-RunBrowserPanel');
    this.title.label = 'Runs';
    this.title.caption = 'Raydata run browser';
    this.title.icon = raydataIcon;
    this.title.closable = true;
  }

  protected render(): JSX.Element {
    return (
      <Bound
        model={this.model}
        render={m => (
          <div className="jp-raydata-RunBrowserPanel-content">
            <div className="jp-raydata-RunBrowserPanel-controls">
              <SearchBar model={m} />
              <ColumnChooser model={m} />
            </div>
            <RunTable model={m} />
          </div>
        )}
      />
    );
  }
}
