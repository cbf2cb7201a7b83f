import React, { useEffect, useMemo, useState } from 'react';

import { RunBrowserModel } from '../runs/model';
import { TemplateInfo } from './api';
import {
  fieldsOf,
  FormText,
  IField,
  initialText,
  parseForm,
  toText
} from './form';
import { IJobProblem, JobsModel } from './model';

/** One generated input with its label, help and error. */
function FieldInput(props: {
  field: IField;
  text: string;
  error: string | null;
  onChange: (text: string) => void;
}): JSX.Element {
  const { field, text, error } = props;
  const id = `jp-raydata-param-${field.name}`;
  const common = {
    id,
    name: field.name,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': `${id}-help`,
    className: `jp-mod-styled${error ? ' jp-raydata-mod-invalid' : ''}`
  };
  let input: JSX.Element;
  if (field.kind === 'boolean') {
    input = (
      <input
        {...common}
        type="checkbox"
        checked={text === 'true'}
        onChange={e => props.onChange(e.target.checked ? 'true' : 'false')}
      />
    );
  } else if (field.kind === 'choice') {
    input = (
      <select
        {...common}
        value={text}
        onChange={e => props.onChange(e.target.value)}
      >
        {field.nullable && <option value="">(none)</option>}
        {field.choices.map(choice => (
          <option key={JSON.stringify(choice)} value={JSON.stringify(choice)}>
            {String(choice)}
          </option>
        ))}
      </select>
    );
  } else {
    input = (
      <input
        {...common}
        type="text"
        inputMode={
          field.kind === 'integer' || field.kind === 'number'
            ? 'decimal'
            : undefined
        }
        placeholder={field.nullable ? 'empty: none' : undefined}
        value={text}
        onChange={e => props.onChange(e.target.value)}
      />
    );
  }
  return (
    <div className="jp-raydata-Param" data-param={field.name}>
      <label htmlFor={id}>{field.title}</label>
      {input}
      <div id={`${id}-help`} className="jp-raydata-Param-help">
        {error && (
          <span className="jp-raydata-Param-error" role="alert">
            {error}
          </span>
        )}
        {field.description}
      </div>
    </div>
  );
}

/**
 * The sidebar's "Analysis" section: pick a template (broken ones listed with their error, not
 * selectable), fill its generated form and a mask, and queue it on the runs ticked in the run table.
 */
export function AnalysisSection(props: {
  jobs: JobsModel;
  runs: RunBrowserModel;
  masks: ReadonlyArray<string>;
}): JSX.Element {
  const { jobs, runs } = props;
  const usable = jobs.templates.filter(t => !t.error);
  const broken = jobs.templates.filter(t => t.error);
  const [name, setName] = useState<string>('');
  const template: TemplateInfo | undefined =
    usable.find(t => t.name === name) ?? usable[0];
  // Keyed on the name: a re-read of the templates must not wipe what the user typed.
  const fields = useMemo(
    () => fieldsOf(template?.parameters),
    [template?.name]
  );
  const [text, setText] = useState<FormText>({});
  const [mask, setMask] = useState('');
  const [problem, setProblem] = useState<IJobProblem | null>(null);
  const [queued, setQueued] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A new template starts from its defaults.
  useEffect(() => {
    setText(initialText(fields));
    setProblem(null);
  }, [fields]);

  const parsed = parseForm(fields, text);
  const selected = [...runs.selected];
  const n = selected.length;
  const serverError = (field: string) =>
    problem?.field === field ? problem.detail : null;

  const submit = async () => {
    if (!template || !runs.catalog) {
      return;
    }
    setBusy(true);
    setQueued(null);
    const answer = await jobs.submit({
      template,
      catalog: runs.catalog,
      uids: selected,
      text,
      mask: mask || null
    });
    setBusy(false);
    setProblem(answer.problem);
    if (!answer.problem) {
      setQueued(
        `Queued ${answer.jobs.length} job${answer.jobs.length === 1 ? '' : 's'}`
      );
    }
  };

  if (!jobs.templates.length) {
    return <p className="jp-raydata-muted">Reading the templates…</p>;
  }
  return (
    <div className="jp-raydata-Analysis">
      <label className="jp-raydata-Analysis-row">
        Template
        <select
          className="jp-mod-styled"
          aria-label="Template"
          value={template?.name ?? ''}
          onChange={e => setName(e.target.value)}
        >
          {jobs.templates.map(t => (
            <option
              key={t.name}
              value={t.name}
              disabled={!!t.error}
              title={t.error ?? t.description}
            >
              {t.error ? `${t.name} (broken)` : t.title}
            </option>
          ))}
        </select>
      </label>
      {template?.description && (
        <p className="jp-raydata-Analysis-description">
          {template.description}
        </p>
      )}
      {broken.length > 0 && (
        <ul
          className="jp-raydata-Analysis-broken"
          aria-label="Broken templates"
        >
          {broken.map(t => (
            <li key={t.name} data-template={t.name}>
              <strong>{t.name}</strong>: {t.error}
            </li>
          ))}
        </ul>
      )}
      <form
        className="jp-raydata-Analysis-form"
        onSubmit={e => {
          e.preventDefault();
          void submit();
        }}
      >
        {fields.map(field => (
          <FieldInput
            key={`${template?.name}:${field.name}`}
            field={field}
            text={text[field.name] ?? toText(field, field.default)}
            error={parsed.errors[field.name] ?? serverError(field.name)}
            onChange={value => {
              setText({ ...text, [field.name]: value });
              if (problem?.field === field.name) {
                setProblem(null);
              }
            }}
          />
        ))}
        <div className="jp-raydata-Param" data-param="mask">
          <label htmlFor="jp-raydata-param-mask">Mask</label>
          <select
            id="jp-raydata-param-mask"
            className={`jp-mod-styled${serverError('mask') ? ' jp-raydata-mod-invalid' : ''}`}
            aria-invalid={serverError('mask') ? true : undefined}
            value={mask}
            onChange={e => {
              setMask(e.target.value);
              setProblem(null);
            }}
          >
            <option value="">(no mask: every pixel)</option>
            {props.masks.map(m => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <div className="jp-raydata-Param-help">
            {serverError('mask') && (
              <span className="jp-raydata-Param-error" role="alert">
                {serverError('mask')}
              </span>
            )}
            A saved mask from the mask library.
          </div>
        </div>
        {problem && problem.field === null && (
          <div className="jp-raydata-Error" role="alert">
            <strong>{problem.error}</strong>
            {problem.detail && <p>{problem.detail}</p>}
          </div>
        )}
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={
            busy ||
            n === 0 ||
            !template ||
            Object.keys(parsed.errors).length > 0
          }
        >
          {`Analyze ${n} selected run${n === 1 ? '' : 's'}`}
        </button>
        {queued && (
          <span className="jp-raydata-muted" role="status">
            {queued}
          </span>
        )}
      </form>
    </div>
  );
}
