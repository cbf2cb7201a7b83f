import { expect, test } from '@jupyterlab/galata';

/**
 * Keeps the README's picture of the sidebar current: run with RAYDATA_SCREENSHOT=1.
 */
test.skip(!process.env.RAYDATA_SCREENSHOT, 'only when refreshing the README');

test('README screenshot of the sidebar', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
  const sidebar = page.locator('#jp-raydata-sidebar');
  await expect(sidebar).toBeVisible();
  for (const header of await sidebar
    .locator('button.jp-raydata-Section-header[aria-expanded="false"]')
    .all()) {
    await header.click();
  }
  await expect(sidebar.locator('[data-field="executor"]')).toHaveText('local');
  await page.screenshot({ path: '../docs/sidebar.png' });
});
