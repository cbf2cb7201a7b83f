import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import React from 'react';

import { Section } from './components/Section';
import { ServerStatus } from './components/ServerStatus';
import { raydataIcon } from './icon';
import { RaydataModel } from './model';

/**
 * One section of the sidebar: later capabilities (runs, metadata, masks, queue) register theirs.
 */
export interface ISidebarSection {
  id: string;
  title: string;
  render: () => JSX.Element;
}

/**
 * The Raydata left-sidebar panel: a stack of collapsible sections over one shared model.
 */
export class RaydataSidebar extends ReactWidget {
  constructor(
    readonly model: RaydataModel,
    private readonly _sections: ISidebarSection[]
  ) {
    super();
    this.id = 'jp-raydata-sidebar';
    this.addClass('jp-raydata-Sidebar');
    this.title.icon = raydataIcon;
    this.title.caption = 'Raydata';
  }

  protected render(): JSX.Element {
    return (
      <div className="jp-raydata-Sidebar-content">
        <header className="jp-raydata-Sidebar-header">
          <h2>Raydata</h2>
        </header>
        {this._sections.map(section => (
          <Section key={section.id} id={section.id} title={section.title}>
            {section.render()}
          </Section>
        ))}
        <Section id="server" title="Server" initiallyOpen={false}>
          <UseSignal
            signal={this.model.connectionChanged}
            initialArgs={this.model.connection}
          >
            {(_, connection) => (
              <ServerStatus
                connection={connection ?? this.model.connection}
                onRetry={() => void this.model.refresh()}
              />
            )}
          </UseSignal>
        </Section>
      </div>
    );
  }
}
