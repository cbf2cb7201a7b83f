import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';

const TAB = '.jp-SideBar [data-id="jp-raydata-sidebar"]';

async function openSidebar(page: IJupyterLabPageFixture, catalog: string) {
  await page.locator(TAB).click();
  const sidebar = page.locator('#jp-raydata-sidebar');
  await expect(sidebar.getByLabel('Catalog')).toContainText(catalog, {
    timeout: 60_000
  });
  await sidebar.getByLabel('Catalog').selectOption(catalog);
  await expect(sidebar.getByTestId('run-count')).toHaveText(/^\d[\d,]* runs?/, {
    timeout: 180_000
  });
  return sidebar;
}

/** Tick the first `n` runs with detector images (demo "count" runs; alignment scans have none). */
async function tickImageRuns(
  sidebar: ReturnType<IJupyterLabPageFixture['locator']>,
  n: number
): Promise<string[]> {
  const rows = sidebar
    .getByTestId('run-grid')
    .locator('.ag-row[row-index]')
    .filter({
      has: sidebar
        .page()
        .locator('[col-id="plan_name"]', { hasText: /^count$/ })
    });
  // A fresh demo catalog is still being indexed: its runs fill in.
  await expect(rows.nth(n - 1)).toBeVisible({ timeout: 120_000 });
  const scans: string[] = [];
  for (let i = 0; i < n; i++) {
    scans.push(await rows.nth(i).locator('[col-id="scan_id"]').innerText());
    await rows.nth(i).locator('input[type="checkbox"]').check();
  }
  return scans;
}

/** Record every state each job row of the queue shows, as the page changes (no polling). */
async function recordStates(page: IJupyterLabPageFixture) {
  await page.evaluate(() => {
    const seen: Record<string, string[]> = {};
    (window as any).raydataStates = seen;
    const look = () => {
      document
        .querySelectorAll('[data-testid="job-table"] tr[data-job]')
        .forEach(row => {
          const id = row.getAttribute('data-job')!;
          const state = row
            .querySelector('[data-state]')
            ?.getAttribute('data-state');
          const list = (seen[id] = seen[id] ?? []);
          if (state && list[list.length - 1] !== state) {
            list.push(state);
          }
        });
    };
    new MutationObserver(look).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state']
    });
    look();
  });
}

async function submit(
  sidebar: ReturnType<IJupyterLabPageFixture['locator']>,
  template: string,
  params: Record<string, string>,
  n: number
) {
  const analysis = sidebar.locator('section[data-section="analysis"]');
  await analysis.getByLabel('Template').selectOption(template);
  for (const [name, value] of Object.entries(params)) {
    await analysis.locator(`[data-param="${name}"] input`).fill(value);
  }
  await analysis
    .getByRole('button', { name: `Analyze ${n} selected runs` })
    .click();
  await expect(analysis.getByRole('status')).toHaveText(`Queued ${n} jobs`);
}

/**
 * Wait for a job row to end, and expect it completed; a failed job's reason is in the message.
 */
async function expectCompleted(
  page: IJupyterLabPageFixture,
  row: ReturnType<IJupyterLabPageFixture['locator']>,
  timeout: number
) {
  const state = row.locator('[data-state]');
  await expect(state).toHaveAttribute(
    'data-state',
    /^(completed|failed|cancelled)$/,
    { timeout }
  );
  const ended = await state.getAttribute('data-state');
  if (ended !== 'completed') {
    const id = await row.getAttribute('data-job');
    const job = await (
      await page.request.get(`/raydata/api/jobs/${id}`)
    ).json();
    expect(`job ${id} ${ended}: ${job.failure}`).toBe(`job ${id} completed`);
  }
}

test.describe('Jobs in the lab', () => {
  test.setTimeout(300_000);

  test('two runs through quick_look: queued, running, completed by events; the run table shows it', async ({
    page
  }) => {
    const sidebar = await openSidebar(page, 'demo');
    const scans = await tickImageRuns(sidebar, 2);
    await recordStates(page);
    await submit(sidebar, 'quick_look', { max_frames: '40' }, 2);

    const queue = sidebar.getByTestId('job-table');
    const rows = queue.locator('tr[data-job]');
    for (const scan of scans) {
      const row = rows.filter({
        has: page.locator(`td:first-child`, {
          hasText: new RegExp(`^${scan}$`)
        })
      });
      await expectCompleted(page, row, 180_000);
    }
    const ids = await rows.evaluateAll(r =>
      r.slice(0, 2).map(row => row.getAttribute('data-job')!)
    );
    const states = await page.evaluate(() => (window as any).raydataStates);
    for (const id of ids) {
      expect(states[id]).toEqual(['queued', 'running', 'completed']);
    }
    // The run table's Job column shows each run's latest job.
    for (const scan of scans) {
      const row = sidebar
        .getByTestId('run-grid')
        .locator('.ag-row[row-index]')
        .filter({
          has: page.locator('[col-id="scan_id"]', {
            hasText: new RegExp(`^${scan}$`)
          })
        });
      await expect(row.locator('[col-id="job"]')).toHaveText('completed');
    }
  });

  test('a running job shows its figure, opens its notebook, is cancelled; a queued one moves to the top', async ({
    page
  }) => {
    const gate = path.join(process.env.RAYDATA_UI_ROOT!, `gate-${Date.now()}`);
    const sidebar = await openSidebar(page, 'demo');
    await tickImageRuns(sidebar, 4);
    await submit(sidebar, 'slow_look', { gate, seconds: '240' }, 4);

    const rows = sidebar.getByTestId('job-table').locator('tr[data-job]');
    const running = rows.filter({
      has: page.locator('[data-state="running"]')
    });
    const queued = rows.filter({ has: page.locator('[data-state="queued"]') });
    await expect(running).toHaveCount(2, { timeout: 120_000 });
    await expect(queued).toHaveCount(2);

    // A figure in the job panel before the job completes.
    const first = running.first();
    const firstId = await first.getAttribute('data-job');
    await first.getByRole('button', { name: 'Open panel' }).click();
    const panel = page.locator(`#jp-raydata-job-${firstId}`);
    const figure = panel.locator('.jp-raydata-JobFigure').first();
    await expect(figure.locator('img')).toBeVisible({ timeout: 120_000 });
    await expect(figure.locator('figcaption')).toHaveText('First figure');
    await expect(
      panel.locator('.jp-raydata-JobPanel-header [data-state]')
    ).toHaveAttribute('data-state', 'running');
    if (process.env.RAYDATA_SCREENSHOT) {
      await page.setViewportSize({ width: 1300, height: 900 });
      await expect(panel.getByTestId('job-log')).not.toHaveText('—');
      await page.screenshot({
        path: path.join(__dirname, '..', '..', 'docs', 'job-panel.png')
      });
    }

    // The executed notebook opens as a notebook.
    await panel.getByRole('button', { name: 'Open notebook' }).click();
    const notebook = page.locator('.jp-NotebookPanel:visible');
    await expect(notebook).toHaveCount(1, { timeout: 30_000 });
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current')
    ).toContainText('notebook.ipynb');
    await expect(notebook.locator('.jp-MarkdownCell').first()).toContainText(
      'Slow look'
    );

    // Move the last queued job to the top.
    const lastQueued = await queued.last().getAttribute('data-job');
    await queued.last().getByRole('button', { name: 'Move to top' }).click();
    await expect(queued.first()).toHaveAttribute('data-job', lastQueued!);

    // Cancel the other running job.
    const second = running.nth(1);
    const secondId = await second.getAttribute('data-job');
    await second.getByRole('button', { name: 'Cancel' }).click();
    await expect(
      page.locator(`tr[data-job="${secondId}"] [data-state]`)
    ).toHaveAttribute('data-state', 'cancelled', { timeout: 30_000 });

    // Open the gate: the rest complete, and the panel shows the second figure and the final state.
    fs.writeFileSync(gate, '');
    await expect(
      panel.locator('.jp-raydata-JobPanel-header [data-state]')
    ).toHaveAttribute('data-state', 'completed', { timeout: 120_000 });
    await expect(panel.locator('.jp-raydata-JobFigure figcaption')).toHaveText([
      'First figure',
      'Second figure'
    ]);
    await expectCompleted(
      page,
      page.locator(`tr[data-job="${lastQueued}"]`),
      120_000
    );
  });

  test('a bad parameter is marked before submitting', async ({ page }) => {
    const sidebar = await openSidebar(page, 'demo');
    await tickImageRuns(sidebar, 1);
    const analysis = sidebar.locator('section[data-section="analysis"]');
    await analysis.getByLabel('Template').selectOption('slow_look');
    const seconds = analysis.locator('[data-param="seconds"]');
    await seconds.locator('input').fill('0');
    await expect(seconds.locator('.jp-raydata-Param-error')).toHaveText(
      'must be at least 1'
    );
    await expect(seconds.locator('input')).toHaveAttribute(
      'aria-invalid',
      'true'
    );
    await expect(
      analysis.getByRole('button', { name: 'Analyze 1 selected run' })
    ).toBeDisabled();
    await seconds.locator('input').fill('2.5');
    await expect(seconds.locator('.jp-raydata-Param-error')).toHaveText(
      'must be a whole number'
    );
    await seconds.locator('input').fill('30');
    await expect(seconds.locator('.jp-raydata-Param-error')).toHaveCount(0);
    await expect(
      analysis.getByRole('button', { name: 'Analyze 1 selected run' })
    ).toBeEnabled();
  });

  test('a run a RunEngine writes appears in the run table within seconds, by push', async ({
    page
  }) => {
    const sidebar = await openSidebar(page, 'beamline');
    const count = sidebar.getByTestId('run-count');
    const before = Number((await count.innerText()).match(/^(\d+)/)![1]);
    execFileSync(
      'python',
      [
        'write_run.py',
        path.join(process.env.RAYDATA_UI_ROOT!, 'beamline'),
        'pushed'
      ],
      { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] }
    );
    // The fallback poll is a minute: only the "runs changed" event can make it this fast.
    await expect(count).toHaveText(new RegExp(`^${before + 1} runs?`), {
      timeout: 6_000
    });
  });
});

/** WCAG contrast ratio of two `rgb(…)` colours. */
function contrast(a: string, b: string): number {
  const lum = (rgb: string) => {
    const [r, g, bl] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(v => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
  test(`job sections and a job panel are readable in ${theme}`, async ({
    page
  }) => {
    await page.theme.setTheme(theme);
    const sidebar = await openSidebar(page, 'demo');
    const rows = sidebar.getByTestId('job-table').locator('tr[data-job]');
    // Jobs of the earlier tests are listed; open one's panel.
    await expect(rows.first()).toBeVisible({ timeout: 30_000 });
    await rows.first().getByRole('button', { name: 'Open panel' }).click();
    const panel = page.locator('.jp-raydata-JobPanel');
    await expect(panel.locator('h2')).toBeVisible();
    const colours = await page.evaluate(() => {
      const pick = (selector: string) => {
        const element = document.querySelector(selector) as HTMLElement;
        let background = 'rgba(0, 0, 0, 0)';
        for (
          let e: HTMLElement | null = element;
          e && background.startsWith('rgba(0, 0, 0, 0)');
          e = e.parentElement
        ) {
          background = getComputedStyle(e).backgroundColor;
        }
        return { text: getComputedStyle(element).color, background };
      };
      return [
        pick('#jp-raydata-sidebar [data-testid="job-table"] td'),
        pick('#jp-raydata-sidebar .jp-raydata-Param label'),
        pick('.jp-raydata-JobPanel h2'),
        pick('.jp-raydata-JobPanel .jp-raydata-Fields dd')
      ];
    });
    for (const { text, background } of colours) {
      expect(contrast(text, background)).toBeGreaterThan(4.5);
    }
  });
}
