import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

const TAB = '.jp-SideBar [data-id="jp-raydata-sidebar"]';

/** Open the sidebar on the demo catalog and wait for its runs. */
async function openDemo(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.locator(TAB).click();
  const sidebar = page.locator('#jp-raydata-sidebar');
  await expect(sidebar.getByLabel('Catalog')).toContainText('demo', {
    timeout: 60_000
  });
  await sidebar.getByLabel('Catalog').selectOption('demo');
  await expect(sidebar.getByTestId('run-count')).toHaveText(/^\d+ runs/, {
    timeout: 180_000
  });
  return sidebar;
}

/** Whether an element lies wholly inside another's box, horizontally. */
async function fitsIn(inner: Locator, outer: Locator): Promise<boolean> {
  const a = (await inner.boundingBox())!;
  const b = (await outer.boundingBox())!;
  return a.x >= b.x - 0.5 && a.x + a.width <= b.x + b.width + 0.5;
}

test.describe('Run browser layouts', () => {
  test.setTimeout(240_000);

  test('a refused query keeps the last good runs beside its error', async ({
    page
  }) => {
    const sidebar = await openDemo(page);
    const count = sidebar.getByTestId('run-count');
    const before = await count.innerText();
    const grid = sidebar.getByTestId('run-grid');
    const firstScan = await grid
      .locator('.ag-row[row-index="0"] [col-id="scan_id"]')
      .innerText();

    await sidebar.getByLabel('Search runs').fill('owner="unclosed');
    await sidebar.getByRole('button', { name: 'Search', exact: true }).click();
    const alert = sidebar.getByRole('alert');
    await expect(alert).toContainText('Invalid search query');
    await expect(alert).toContainText('Unclosed quote');
    // The table still lists the runs of the last accepted search, and says how many.
    await expect(count).toHaveText(before);
    await expect(
      grid.locator('.ag-row[row-index="0"] [col-id="scan_id"]')
    ).toHaveText(firstScan);
    await expect(sidebar.getByLabel('Search runs')).toHaveValue(
      'owner="unclosed'
    );

    // Fixing the query clears the error and searches.
    await sidebar.getByLabel('Search runs').fill('owner=alice');
    await sidebar.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(alert).toBeHidden();
    await expect(count).not.toHaveText(before);
  });

  test('the sidebar fits its default width', async ({ page }) => {
    const sidebar = await openDemo(page);
    const grid = sidebar.getByTestId('run-grid');
    for (const colId of ['scan_id', 'time', 'plan_name']) {
      const header = grid.locator(`.ag-header-cell[col-id="${colId}"]`);
      expect(await fitsIn(header, grid), `${colId} is cut off`).toBe(true);
    }
    // Each footer button keeps its label on one line.
    const buttons = sidebar.locator('.jp-raydata-RunTable-buttons button');
    await expect(buttons).toHaveCount(3);
    for (const button of await buttons.all()) {
      const lineHeight = await button.evaluate(
        b => parseFloat(getComputedStyle(b).lineHeight) || 18
      );
      expect((await button.boundingBox())!.height).toBeLessThan(2 * lineHeight);
      expect(await fitsIn(button, sidebar)).toBe(true);
    }
  });

  test('the wide table shows every chosen column and shares the selection', async ({
    page
  }) => {
    const sidebar = await openDemo(page);
    await sidebar.getByRole('button', { name: 'Open wide' }).click();
    const wide = page.locator('#jp-raydata-run-browser');
    await expect(wide).toBeVisible();
    const wideGrid = wide.getByTestId('run-grid');
    await expect(wide.getByTestId('run-count')).toHaveText(
      await sidebar.getByTestId('run-count').innerText()
    );

    // Every chosen column is on screen at once, without scrolling.
    const columns = [
      'scan_id',
      'time',
      'plan_name',
      'owner',
      'exit_status',
      'sequence id',
      'number of images'
    ];
    for (const colId of columns) {
      const header = wideGrid.locator(`.ag-header-cell[col-id="${colId}"]`);
      await expect(header).toBeVisible();
      expect(await fitsIn(header, wideGrid), `${colId} is off screen`).toBe(
        true
      );
    }

    // A run ticked in the wide table is ticked in the sidebar, and the other way round.
    await wideGrid
      .locator('.ag-row[row-index="1"] input[type="checkbox"]')
      .check();
    const picked = await wideGrid
      .locator('.ag-row[row-index="1"] [col-id="scan_id"]')
      .innerText();
    await expect(sidebar.getByTestId('run-count')).toContainText('1 selected');
    const sidebarGrid = sidebar.getByTestId('run-grid');
    await expect(sidebarGrid.locator('.ag-row.ag-row-selected')).toHaveCount(1);
    await expect(
      sidebarGrid.locator('.ag-row.ag-row-selected [col-id="scan_id"]')
    ).toHaveText(picked);

    await sidebarGrid
      .locator('.ag-row[row-index="0"] input[type="checkbox"]')
      .check();
    await expect(wide.getByTestId('run-count')).toContainText('2 selected');
    await expect(wideGrid.locator('.ag-row.ag-row-selected')).toHaveCount(2);

    // A search typed in the wide panel is the sidebar's search too.
    await wide.getByLabel('Search runs').fill('plan_name=count');
    await wide.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(
      sidebarGrid.locator('.ag-row[row-index="0"] [col-id="plan_name"]')
    ).toHaveText('count');
  });
});
