import React, { useEffect, useState } from 'react';

import { IProblem } from './model';

/**
 * A number input that commits on Enter or when it loses focus (so one edit is one undo step).
 * Blank means null where `optional`; text that is not a number is put back.
 */
export function NumberField(props: {
  label: string;
  value: number | null;
  onCommit: (value: number | null) => void;
  optional?: boolean;
  placeholder?: string;
  step?: number;
}): JSX.Element {
  const shown = props.value === null ? '' : String(props.value);
  const [text, setText] = useState(shown);
  useEffect(() => setText(shown), [shown]);
  const commit = () => {
    const trimmed = text.trim();
    if (trimmed === '' && props.optional) {
      if (props.value !== null) {
        props.onCommit(null);
      }
      return;
    }
    const value = Number(trimmed);
    if (trimmed === '' || !Number.isFinite(value)) {
      setText(shown);
    } else if (value !== props.value) {
      props.onCommit(value);
    }
  };
  return (
    <label className="jp-raydata-NumberField">
      <span>{props.label}</span>
      <input
        type="text"
        inputMode="decimal"
        className="jp-mod-styled"
        aria-label={props.label}
        value={text}
        placeholder={props.placeholder ?? (props.optional ? 'auto' : '')}
        onChange={e => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            commit();
          }
          e.stopPropagation();
        }}
      />
    </label>
  );
}

/** A problem the server or the browser reported: its title, its detail, and a Dismiss button if
 * `onDismiss` is given. */
export function ProblemBox(props: {
  problem: IProblem;
  testId?: string;
  onDismiss?: () => void;
}): JSX.Element {
  return (
    <div className="jp-raydata-Error" role="alert" data-testid={props.testId}>
      <p>
        <strong>{props.problem.error}</strong>
      </p>
      <p>{props.problem.detail}</p>
      {props.onDismiss && (
        <button className="jp-mod-styled" onClick={props.onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}
