import React from 'react';

/**
 * A labelled drop-down of fixed choices, styled as JupyterLab's own.
 */
export function Choice<T extends string>(props: {
  label: string;
  value: T;
  options: Record<T, string>;
  onChange: (value: T) => void;
}): JSX.Element {
  return (
    <select
      className="jp-mod-styled"
      aria-label={props.label}
      value={props.value}
      onChange={e => props.onChange(e.target.value as T)}
    >
      {(Object.entries(props.options) as [T, string][]).map(([value, text]) => (
        <option key={value} value={value}>
          {text}
        </option>
      ))}
    </select>
  );
}
