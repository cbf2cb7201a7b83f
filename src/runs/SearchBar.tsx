import React, { useEffect, useState } from 'react';

import { Choice } from '../components/Choice';
import { RunBrowserModel } from './model';
import { ITimeRange, PRESET_LABELS } from './timeRange';

/** A `datetime-local` box read in the browser's time zone. */
function DateTimeField(props: {
  label: string;
  description: string;
  value: string;
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <label className="jp-raydata-Field">
      <span>{props.label}</span>
      <input
        type="datetime-local"
        aria-label={props.description}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      />
    </label>
  );
}

/**
 * Catalog picker, time range (presets or custom bounds) and the search box with its syntax help.
 */
export function SearchBar(props: { model: RunBrowserModel }): JSX.Element {
  const { model } = props;
  const [text, setText] = useState(model.query);
  const [showHelp, setShowHelp] = useState(false);
  useEffect(() => setText(model.query), [model.catalog]);

  const setRange = (patch: Partial<ITimeRange>) =>
    model.setRange({ ...model.range, ...patch });

  return (
    <div className="jp-raydata-SearchBar">
      <label className="jp-raydata-Field">
        <span>Catalog</span>
        <select
          className="jp-mod-styled"
          aria-label="Catalog"
          value={model.catalog ?? ''}
          onChange={e => void model.setCatalog(e.target.value)}
        >
          {model.catalogs.map(c => (
            <option
              key={c.name}
              value={c.name}
              title={c.reachable ? c.kind : c.reason}
            >
              {c.reachable ? c.name : `${c.name} (unreachable)`}
            </option>
          ))}
        </select>
      </label>
      <label className="jp-raydata-Field">
        <span>Time</span>
        <Choice
          label="Time range"
          value={model.range.preset}
          options={PRESET_LABELS}
          onChange={preset => setRange({ preset })}
        />
      </label>
      {model.range.preset === 'custom' && (
        <div className="jp-raydata-SearchBar-custom">
          <DateTimeField
            label="From"
            description="Start of time range"
            value={model.range.since}
            onChange={since => setRange({ since })}
          />
          <DateTimeField
            label="To"
            description="End of time range"
            value={model.range.until}
            onChange={until => setRange({ until })}
          />
        </div>
      )}
      <form
        className="jp-raydata-SearchBar-query"
        onSubmit={e => {
          e.preventDefault();
          model.setQuery(text);
        }}
      >
        <input
          type="search"
          className="jp-mod-styled"
          aria-label="Search runs"
          placeholder='e.g. owner=alice "sequence id">=3 -test'
          value={text}
          onChange={e => setText(e.target.value)}
        />
        <button type="submit" className="jp-mod-styled jp-mod-accept">
          Search
        </button>
        <button
          type="button"
          className="jp-mod-styled"
          aria-expanded={showHelp}
          aria-label="Search syntax help"
          onClick={() => setShowHelp(!showHelp)}
        >
          ?
        </button>
      </form>
      {showHelp && model.help && (
        <div className="jp-raydata-Help" role="note">
          <p>{model.help.query}</p>
          <table>
            <tbody>
              {model.help.examples.map(example => (
                <tr key={example.query}>
                  <td>
                    <code>{example.query}</code>
                  </td>
                  <td>{example.meaning}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>{model.help.sort}</p>
          <p>{model.help.dates}</p>
        </div>
      )}
      {model.problem && (
        <div className="jp-raydata-Error" role="alert">
          <strong>{model.problem.error}</strong>
          {model.problem.detail && <p>{model.problem.detail}</p>}
        </div>
      )}
    </div>
  );
}
