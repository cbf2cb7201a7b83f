import React, { useState } from 'react';

import { IPanel, IRunDetail } from '../api';
import { DetailState } from './model';
import { formatTime } from './timeRange';
import { compactValue, isStructured } from './values';

/**
 * A metadata value as text: scalars on one line, objects and arrays compact and expandable.
 * Never HTML: a `<script>` in a sample name stays text.
 */
function Value(props: { value: unknown }): JSX.Element {
  const { value } = props;
  if (!isStructured(value)) {
    return <span>{compactValue(value, 10_000)}</span>;
  }
  return (
    <details className="jp-raydata-Value">
      <summary>{compactValue(value, 60)}</summary>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

function PanelFields(props: { panel: IPanel }): JSX.Element {
  return (
    <dl className="jp-raydata-Fields" data-panel={props.panel.name}>
      {props.panel.fields.map(field => (
        <React.Fragment key={field.key}>
          <dt title={field.key}>{field.label}</dt>
          <dd data-key={field.key}>
            {field.key === 'time' && typeof field.value === 'number' ? (
              <span title={String(field.value)}>{formatTime(field.value)}</span>
            ) : (
              <Value value={field.value} />
            )}
          </dd>
        </React.Fragment>
      ))}
    </dl>
  );
}

function StreamsSummary(props: { detail: IRunDetail }): JSX.Element {
  return (
    <ul className="jp-raydata-Streams">
      {props.detail.streams.map(stream => (
        <li key={stream.name}>
          <strong>{stream.name}</strong>
          {stream.events !== null && ` · ${stream.events} events`}
          <ul>
            {stream.data_keys.map(key => (
              <li key={key.key}>
                <code>{key.key}</code> {key.dtype} [{key.shape.join(' × ')}]
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}

/**
 * The active run's metadata: General / Plan / Analysis panels, the raw JSON documents, streams.
 */
export function MetadataPanels(props: { state: DetailState }): JSX.Element {
  const { state } = props;
  const [tab, setTab] = useState('general');
  if (state.status === 'none') {
    return <p className="jp-raydata-muted">Click a run to see its metadata.</p>;
  }
  if (state.status === 'loading') {
    return (
      <p className="jp-raydata-muted">Loading run {state.uid.slice(0, 8)}…</p>
    );
  }
  if (state.status === 'error') {
    return (
      <div className="jp-raydata-Error" role="alert">
        <strong>{state.problem.error}</strong>
        <p>{state.problem.detail}</p>
      </div>
    );
  }
  const { detail } = state;
  const tabs = [
    ...detail.panels.map(p => ({ id: p.name, title: p.title })),
    { id: 'streams', title: 'Streams' },
    { id: 'json', title: 'JSON' }
  ];
  const panel = detail.panels.find(p => p.name === tab);
  return (
    <div className="jp-raydata-Metadata" data-uid={detail.uid}>
      <div className="jp-raydata-Tabs" role="tablist">
        {tabs.map(t => (
          <button
            key={t.id}
            role="tab"
            aria-selected={tab === t.id}
            className="jp-raydata-Tab"
            onClick={() => setTab(t.id)}
          >
            {t.title}
          </button>
        ))}
      </div>
      <div role="tabpanel" className="jp-raydata-TabPanel">
        {panel && <PanelFields panel={panel} />}
        {tab === 'streams' && <StreamsSummary detail={detail} />}
        {tab === 'json' && (
          <pre className="jp-raydata-Json">
            {JSON.stringify(
              { start: detail.start, stop: detail.stop },
              null,
              2
            )}
          </pre>
        )}
      </div>
    </div>
  );
}
