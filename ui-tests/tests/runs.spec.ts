import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator, Response } from '@playwright/test';

const SIDEBAR = '#jp-raydata-sidebar';

/** The number in the row-count footer ("1,234 runs · 2 selected" → 1234), or -1 while loading. */
async function shownCount(sidebar: Locator): Promise<number> {
  const text = await sidebar.getByTestId('run-count').innerText();
  const count = text.replace(/,/g, '').match(/^(\d+) runs?/);
  return count ? Number(count[1]) : -1;
}

/** The number in the row-count footer, once loaded. */
async function runCount(sidebar: Locator): Promise<number> {
  await expect(sidebar.getByTestId('run-count')).toHaveText(/^\d[\d,]* runs?/);
  return shownCount(sidebar);
}

function runsResponse(page: IJupyterLabPageFixture): Promise<Response> {
  return page.waitForResponse(
    r => /\/raydata\/api\/catalogs\/demo\/runs\?/.test(r.url()) && r.ok()
  );
}

/** Texts of one column's rendered cells, top to bottom. */
async function columnValues(grid: Locator, colId: string): Promise<string[]> {
  const rows = grid.locator('.ag-row[row-index]');
  const count = await rows.count();
  const values: { top: number; text: string }[] = [];
  for (let i = 0; i < count; i++) {
    const row = rows.nth(i);
    const index = Number(await row.getAttribute('row-index'));
    values.push({
      top: index,
      text: (await row.locator(`[col-id="${colId}"]`).innerText()).trim()
    });
  }
  return values.sort((a, b) => a.top - b.top).map(v => v.text);
}

test.describe('Run browser', () => {
  // The demo catalog is built on first use by the server under test.
  test.setTimeout(240_000);

  test('search, time range, two-column sort, select, metadata and preview', async ({
    page
  }) => {
    const gridErrors: string[] = [];
    page.on('console', message => {
      if (message.text().includes('AG Grid')) {
        gridErrors.push(message.text());
      }
    });
    await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
    const sidebar = page.locator(SIDEBAR);
    const grid = sidebar.getByTestId('run-grid');

    // Pick the demo catalog; its runs are listed.
    await expect(sidebar.getByLabel('Catalog')).toContainText('demo', {
      timeout: 60_000
    });
    await sidebar.getByLabel('Catalog').selectOption('demo');
    // A catalog still being indexed lists the runs indexed so far (at first none): wait for all.
    await expect
      .poll(() => shownCount(sidebar), { timeout: 180_000 })
      .toBeGreaterThan(10);
    await expect(sidebar.getByTestId('run-progress')).toHaveCount(0, {
      timeout: 180_000
    });
    const all = await runCount(sidebar);

    // A time range narrows the list.
    await sidebar.getByLabel('Time range').selectOption('custom');
    let listed = runsResponse(page);
    await sidebar.getByLabel('Start of time range').fill('2024-01-01T00:00');
    await listed;
    listed = runsResponse(page);
    await sidebar.getByLabel('End of time range').fill('2024-06-01T00:00');
    await listed;
    await expect.poll(() => runCount(sidebar)).toBeLessThan(all);
    const inRange = await runCount(sidebar);
    expect(inRange).toBeGreaterThan(0);

    // Search by key: every listed run belongs to alice.
    listed = runsResponse(page);
    await sidebar.getByLabel('Search runs').fill('owner=alice');
    await sidebar.getByRole('button', { name: 'Search', exact: true }).click();
    expect((await listed).url()).toContain('q=owner%3Dalice');
    await expect.poll(() => runCount(sidebar)).toBeLessThan(inRange);
    await expect
      .poll(async () => new Set(await columnValues(grid, 'owner')))
      .toEqual(new Set(['alice']));

    // Sort by plan, then (shift-click) by scan number descending.
    await sidebar.getByLabel('Search runs').fill('');
    listed = runsResponse(page);
    await sidebar.getByRole('button', { name: 'Search', exact: true }).click();
    await listed;
    listed = runsResponse(page);
    await grid
      .locator('.ag-header-cell[col-id="plan_name"] .ag-header-cell-label')
      .click();
    expect((await listed).url()).toContain('sort=plan_name');
    listed = runsResponse(page);
    await grid
      .locator('.ag-header-cell[col-id="scan_id"] .ag-header-cell-label')
      .click({ modifiers: ['Shift'] });
    expect((await listed).url()).toContain('sort=plan_name%2Cscan_id');
    listed = runsResponse(page);
    await grid
      .locator('.ag-header-cell[col-id="scan_id"] .ag-header-cell-label')
      .click({ modifiers: ['Shift'] });
    expect((await listed).url()).toContain('sort=plan_name%2C-scan_id');
    await expect
      .poll(async () => {
        const plans = await columnValues(grid, 'plan_name');
        const scans = (await columnValues(grid, 'scan_id')).map(Number);
        const pairs = plans.map((p, i) => [p, scans[i]] as const);
        return pairs.every(
          ([p, s], i) =>
            i === 0 ||
            pairs[i - 1][0] < p ||
            (pairs[i - 1][0] === p && pairs[i - 1][1] >= s)
        );
      })
      .toBe(true);

    // Select two runs with their checkboxes.
    const rows = grid.locator('.ag-row[row-index]');
    await expect(rows.first()).toBeVisible();
    await grid.locator('.ag-row[row-index="0"] input[type="checkbox"]').check();
    await grid.locator('.ag-row[row-index="1"] input[type="checkbox"]').check();
    await expect(sidebar.getByTestId('run-count')).toContainText('2 selected');

    // Open the first XPCS run (a "count" plan with images): metadata panels and preview.
    const xpcsRow = rows.filter({ hasText: 'count' }).first();
    const scanId = (
      await xpcsRow.locator('[col-id="scan_id"]').innerText()
    ).trim();
    await xpcsRow.locator('[col-id="owner"]').click();
    // The opened run is the one row marked in the table.
    const active = grid.locator('.ag-row.jp-raydata-mod-active');
    await expect(active).toHaveCount(1);
    await expect(active.locator('[col-id="scan_id"]')).toHaveText(scanId);
    const metadata = sidebar.locator('section[data-section="metadata"]');
    const general = metadata.locator('[data-panel="general"]');
    await expect(general).toBeVisible();
    await expect(general.locator('[data-key="owner"]')).not.toBeEmpty();
    await expect(general.locator('[data-key="uid"]')).toHaveText(
      /^[0-9a-f-]{36}$/
    );
    await metadata.getByRole('tab', { name: 'Plan' }).click();
    await expect(
      metadata.locator('[data-panel="plan"] [data-key="scan_id"]')
    ).toHaveText(scanId);
    await expect(
      metadata.locator('[data-panel="plan"] [data-key="plan_name"]')
    ).toHaveText('count');
    await metadata.getByRole('tab', { name: 'Analysis' }).click();
    await expect(
      metadata.locator('[data-panel="analysis"] [data-key="number of images"]')
    ).toHaveText(/^\d+$/);

    const preview = metadata.locator('img.jp-raydata-Preview-image');
    await expect(preview).toBeVisible({ timeout: 60_000 });
    const size = await preview.evaluate(
      (img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight] as const
    );
    expect(size[0]).toBeGreaterThan(32);
    expect(size[1]).toBeGreaterThan(32);
    expect(gridErrors).toEqual([]);
  });
});
