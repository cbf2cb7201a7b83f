import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

// Tells React that updates are wrapped in act(), as in a test renderer.
(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

import { Section } from '../components/Section';

describe('Section', () => {
  it('renders its title and toggles its body', () => {
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    act(() => {
      root.render(
        <Section id="runs" title="Runs">
          <p className="probe">body</p>
        </Section>
      );
    });
    const button = host.querySelector('button')!;
    expect(host.querySelector('h3')!.textContent).toBe('Runs');
    expect(button.getAttribute('aria-expanded')).toBe('true');
    expect(host.querySelector('.probe')).not.toBeNull();
    act(() => button.click());
    expect(button.getAttribute('aria-expanded')).toBe('false');
    expect(host.querySelector('.probe')).toBeNull();
    act(() => root.unmount());
  });
});
