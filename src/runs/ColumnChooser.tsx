import React, { useState } from 'react';

import { RunBrowserModel } from './model';

/**
 * Choose which start-document keys show as table columns; the choice is kept per catalog.
 */
export function ColumnChooser(props: { model: RunBrowserModel }): JSX.Element {
  const { model } = props;
  const [filter, setFilter] = useState('');
  const chosen = new Set(model.columns);
  const needle = filter.trim().toLowerCase();
  const shown = model.availableColumns.filter(c =>
    c.key.toLowerCase().includes(needle)
  );

  const toggle = (key: string) => {
    model.setColumns(
      chosen.has(key)
        ? model.columns.filter(k => k !== key)
        : [...model.columns, key]
    );
  };

  return (
    <details className="jp-raydata-ColumnChooser">
      <summary>Columns ({model.columns.length})</summary>
      <input
        type="search"
        className="jp-mod-styled"
        aria-label="Filter columns"
        placeholder="Filter keys"
        value={filter}
        onChange={e => setFilter(e.target.value)}
      />
      <ul>
        {shown.map(column => (
          <li key={column.key}>
            <label>
              <input
                type="checkbox"
                checked={chosen.has(column.key)}
                onChange={() => toggle(column.key)}
              />
              <span>{column.key}</span>
              <span className="jp-raydata-muted"> ({column.count})</span>
            </label>
          </li>
        ))}
      </ul>
    </details>
  );
}
