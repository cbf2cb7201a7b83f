import React from 'react';

import { ConnectionState } from '../model';

/**
 * What the server extension reports: version, executor, catalogs; or why it cannot be reached.
 */
export function ServerStatus(props: {
  connection: ConnectionState;
  onRetry: () => void;
}): JSX.Element {
  const { connection } = props;
  if (connection.status === 'loading') {
    return <p className="jp-raydata-muted">Contacting the Raydata server…</p>;
  }
  if (connection.status === 'error') {
    return (
      <div className="jp-raydata-Error" role="alert">
        <strong>{connection.error}</strong>
        {connection.detail && <p>{connection.detail}</p>}
        <button className="jp-mod-styled" onClick={props.onRetry}>
          Retry
        </button>
      </div>
    );
  }
  const { health } = connection;
  return (
    <dl className="jp-raydata-Fields">
      <dt>Version</dt>
      <dd data-field="version">{health.version}</dd>
      <dt>Executor</dt>
      <dd data-field="executor">{health.executor}</dd>
      <dt>Catalogs</dt>
      <dd data-field="catalogs">{health.catalogs.join(', ')}</dd>
    </dl>
  );
}
