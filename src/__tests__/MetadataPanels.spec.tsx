import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

import { IRunDetail } from '../api';
import { MetadataPanels } from '../runs/MetadataPanels';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

const DETAIL: IRunDetail = {
  uid: 'a1b2c3d4-0000-4000-8000-000000000000',
  panels: [
    {
      name: 'general',
      title: 'General',
      fields: [
        {
          key: 'owner',
          label: 'Owner',
          value: '<img src="x" onerror="alert(1)"><script>alert(2)</script>'
        },
        { key: 'time', label: 'Start time', value: 1704164645 },
        {
          key: 'plan_args',
          label: 'Plan arguments',
          value: { num: 10, detectors: ['eiger'] }
        }
      ]
    }
  ],
  start: { uid: 'a1b2c3d4-0000-4000-8000-000000000000' },
  stop: null,
  streams: [],
  image_keys: []
};

function render(element: JSX.Element): HTMLElement {
  const host = document.createElement('div');
  document.body.appendChild(host);
  const root = createRoot(host);
  act(() => root.render(element));
  return host;
}

describe('MetadataPanels', () => {
  it('renders metadata as text, never as HTML', () => {
    const host = render(
      <MetadataPanels
        state={{ status: 'ready', uid: DETAIL.uid, detail: DETAIL }}
      />
    );
    const owner = host.querySelector('[data-key="owner"]')!;
    expect(owner.textContent).toBe(
      '<img src="x" onerror="alert(1)"><script>alert(2)</script>'
    );
    // Rendered as HTML, the value would have become elements.
    expect(owner.querySelectorAll('img, script')).toHaveLength(0);
    expect(host.querySelector('img, script')).toBeNull();
  });

  it('shows objects compactly with the full value on expansion', () => {
    const host = render(
      <MetadataPanels
        state={{ status: 'ready', uid: DETAIL.uid, detail: DETAIL }}
      />
    );
    const value = host.querySelector('[data-key="plan_args"] details')!;
    expect(value.querySelector('summary')!.textContent).toBe(
      '{"num":10,"detectors":["eiger"]}'
    );
    expect(JSON.parse(value.querySelector('pre')!.textContent!)).toEqual({
      num: 10,
      detectors: ['eiger']
    });
  });

  it('formats the start time and explains errors', () => {
    const host = render(
      <MetadataPanels
        state={{ status: 'ready', uid: DETAIL.uid, detail: DETAIL }}
      />
    );
    expect(host.querySelector('[data-key="time"]')!.textContent).toMatch(
      /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/
    );
    const failed = render(
      <MetadataPanels
        state={{
          status: 'error',
          uid: 'x',
          problem: { error: 'Unknown run', detail: "No run with uid 'x'." }
        }}
      />
    );
    expect(failed.querySelector('[role="alert"]')!.textContent).toContain(
      'Unknown run'
    );
  });
});
