import { expect, test } from '@jupyterlab/galata';

/**
 * Keeps the README's picture of the sidebar current: run with RAYDATA_SCREENSHOT=1.
 */
test.skip(!process.env.RAYDATA_SCREENSHOT, 'only when refreshing the README');
test.setTimeout(240_000);

test('README screenshot of the sidebar', async ({ page }) => {
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
  await page.sidebar.setWidth(560, 'left');
  const sidebar = page.locator('#jp-raydata-sidebar');
  await expect(sidebar.getByLabel('Catalog')).toContainText('demo');
  await sidebar.getByLabel('Catalog').selectOption('demo');
  await expect(sidebar.getByTestId('run-count')).toHaveText(/^\d[\d,]* runs/, {
    timeout: 180_000
  });
  const grid = sidebar.getByTestId('run-grid');
  await grid.locator('.ag-row[row-index="1"] input[type="checkbox"]').check();
  await grid.locator('.ag-row[row-index="2"] input[type="checkbox"]').check();
  await grid
    .locator('.ag-row[row-index]')
    .filter({ hasText: 'count' })
    .first()
    .locator('[col-id="owner"]')
    .click();
  await expect(sidebar.locator('img.jp-raydata-Preview-image')).toBeVisible({
    timeout: 60_000
  });
  await page.screenshot({ path: '../docs/sidebar.png' });
});
