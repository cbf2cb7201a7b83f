import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

/**
 * A collapsible sidebar section with a heading; later capabilities each add one.
 */
export function Section(props: {
  id: string;
  title: string;
  children: React.ReactNode;
  initiallyOpen?: boolean;
}): JSX.Element {
  const [open, setOpen] = useState(props.initiallyOpen ?? true);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const bodyId = `jp-raydata-section-body-${props.id}`;
  return (
    <section
      className="jp-raydata-Section"
      data-section={props.id}
      aria-label={props.title}
    >
      <button
        className="jp-raydata-Section-header"
        aria-expanded={open}
        aria-controls={bodyId}
        onClick={() => setOpen(!open)}
      >
        <Caret.react tag="span" className="jp-raydata-Section-caret" />
        <h3 className="jp-raydata-Section-title">{props.title}</h3>
      </button>
      {open && (
        <div className="jp-raydata-Section-body" id={bodyId}>
          {props.children}
        </div>
      )}
    </section>
  );
}
