import { expect, test } from '@jupyterlab/galata';

test.describe('Run table columns', () => {
  test.setTimeout(180_000);

  test('the chosen catalog and its columns are kept across a reload', async ({
    page
  }) => {
    await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
    const sidebar = page.locator('#jp-raydata-sidebar');
    await expect(sidebar.getByLabel('Catalog')).toContainText('demo', {
      timeout: 60_000
    });
    await sidebar.getByLabel('Catalog').selectOption('demo');
    const grid = sidebar.getByTestId('run-grid');
    await expect(sidebar.getByTestId('run-count')).toHaveText(/^\d+ runs/, {
      timeout: 120_000
    });

    // The workspace save that carries the new column (earlier saves carry the sidebar's layout).
    const saved = page.waitForRequest(
      request =>
        request.url().includes('/api/workspaces') &&
        request.method() === 'PUT' &&
        (request.postData() ?? '').includes('"sample"')
    );
    await sidebar.locator('.jp-raydata-ColumnChooser summary').click();
    await sidebar.getByLabel('Filter columns').fill('sample');
    await sidebar
      .locator('.jp-raydata-ColumnChooser li', { hasText: /^sample/ })
      .getByRole('checkbox')
      .check();
    const header = grid.locator('.ag-header-cell[col-id="sample"]');
    await expect(header).toBeVisible();
    await expect(
      grid.locator('.ag-row[row-index="0"] [col-id="sample"]')
    ).not.toBeEmpty();
    await saved;

    await page.reload({ waitUntil: 'networkidle' });
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    await expect(sidebar.getByLabel('Catalog')).toHaveValue('demo', {
      timeout: 60_000
    });
    await expect(header).toBeVisible({ timeout: 60_000 });
  });
});
