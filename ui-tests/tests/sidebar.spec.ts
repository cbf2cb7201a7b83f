import { expect, test } from '@jupyterlab/galata';

const SIDEBAR = '#jp-raydata-sidebar';
const TAB = '.jp-SideBar [data-id="jp-raydata-sidebar"]';

test.describe('Raydata sidebar', () => {
  test('opens from its icon and shows the server section', async ({ page }) => {
    await page.locator(TAB).click();
    const sidebar = page.locator(SIDEBAR);
    await expect(sidebar).toBeVisible();
    await expect(sidebar.locator('h2')).toHaveText('Raydata');
    await expect(sidebar.locator('.jp-raydata-Section-title')).toHaveText([
      'Runs',
      'Metadata',
      'Analysis',
      'Queue',
      'Masks',
      'Server'
    ]);
    await expect(sidebar.getByLabel('Search runs')).toBeVisible();

    const server = sidebar.locator('section[data-section="server"]');
    await server.locator('button.jp-raydata-Section-header').click();
    await expect(server.locator('[data-field="executor"]')).toHaveText(
      'LocalCluster'
    );
    await expect(server.locator('[data-field="catalogs"]')).toHaveText(
      'beamline, demo'
    );
    await expect(server.locator('[data-field="version"]')).toHaveText(
      /^\d+\.\d+\.\d+/
    );
  });

  test('opens from the command palette', async ({ page }) => {
    await expect(page.locator(SIDEBAR)).toBeHidden();
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await expect(palette).toBeVisible();
    await palette.locator('input').fill('Open the Raydata sidebar');
    await palette
      .locator('.lm-CommandPalette-item', {
        hasText: 'Open the Raydata sidebar'
      })
      .first()
      .click();
    await expect(page.locator(SIDEBAR)).toBeVisible();
    await expect(
      page.locator(`${SIDEBAR} section[data-section="runs"]`)
    ).toBeVisible();
  });

  test('is restored after a reload', async ({ page }) => {
    const saved = page.waitForRequest(
      request =>
        request.url().includes('/api/workspaces') && request.method() === 'PUT'
    );
    await page.locator(TAB).click();
    await expect(page.locator(SIDEBAR)).toBeVisible();
    await saved;
    await page.reload({ waitUntil: 'networkidle' });
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    await expect(page.locator(SIDEBAR)).toBeVisible();
  });
});
