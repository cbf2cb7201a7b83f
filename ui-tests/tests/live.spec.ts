import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import path from 'path';

/** Take a run with a real RunEngine into the "beamline" catalog the server under test watches. */
function takeRun(sample: string): string {
  const catalog = path.join(process.env.RAYDATA_UI_ROOT!, 'beamline');
  return execFileSync('python', ['write_run.py', catalog, sample], {
    cwd: path.join(__dirname, '..'),
    encoding: 'utf-8',
    // Captured, not shown: tiled's start-up chatter; a failure's message carries it.
    stdio: ['ignore', 'pipe', 'pipe']
  }).trim();
}

test.describe('Live run table', () => {
  test.setTimeout(180_000);

  test('new runs appear by themselves and the selection survives', async ({
    page
  }) => {
    await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
    const sidebar = page.locator('#jp-raydata-sidebar');
    const grid = sidebar.getByTestId('run-grid');
    const count = sidebar.getByTestId('run-count');

    await expect(sidebar.getByLabel('Catalog')).toContainText('beamline', {
      timeout: 60_000
    });
    await sidebar.getByLabel('Catalog').selectOption('beamline');
    await expect(count).toHaveText(/^\d+ runs?/, { timeout: 60_000 });
    const before = Number((await count.innerText()).match(/^(\d+)/)![1]);

    const firstUid = takeRun('first sample');
    // Pushed by the "runs changed" event (the poll is a minute): nothing on the page is touched.
    await expect(count).toHaveText(new RegExp(`^${before + 1} runs?`), {
      timeout: 10_000
    });
    // The count may change a moment before the rows: tick the new run itself, once it is on top.
    const first = grid.locator(`.ag-row[row-id="${firstUid}"]`);
    await expect(first).toHaveAttribute('row-index', '0');
    await first.locator('input[type="checkbox"]').check();
    await expect(count).toContainText('1 selected');

    const secondUid = takeRun('second sample');
    await expect(count).toHaveText(
      new RegExp(`^${before + 2} runs · 1 selected`),
      {
        timeout: 10_000
      }
    );
    // The new run is on top; the one the user ticked is still ticked.
    await expect(grid.locator('.ag-row[row-index="0"]')).toHaveAttribute(
      'row-id',
      secondUid
    );
    const ticked = grid.locator('.ag-row.ag-row-selected');
    await expect(ticked).toHaveCount(1);
    await expect(ticked).toHaveAttribute('row-id', firstUid);
    await expect(ticked).toHaveAttribute('row-index', '1');
  });
});
