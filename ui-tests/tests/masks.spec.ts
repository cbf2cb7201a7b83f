import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { Locator } from '@playwright/test';

const SIDEBAR = '#jp-raydata-sidebar';

/** A mask ZIP for a 128×128 detector: columns 0–3 unused (pyCHX .npy) and row 0 masked (EDF, 1 =
 * masked), written with numpy and fabio. */
function maskZip(): string {
  const file = path.join(os.tmpdir(), `raydata-ui-masks-${process.pid}.zip`);
  const code = `
import io, sys, tempfile, zipfile, pathlib
import numpy as np
from jupyterlab_raydata.analysis.masks import save_mask
used = np.ones((128, 128), bool); used[:, :4] = False
gaps = io.BytesIO(); np.save(gaps, used)
folder = pathlib.Path(tempfile.mkdtemp())
row = np.ones((128, 128), bool); row[0, :] = False
edf = save_mask(folder / "row.edf", row, invert=True).read_bytes()
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("masks/gaps.npy", gaps.getvalue())
    z.writestr("masks/row.edf", edf)
`;
  execFileSync('python', ['-c', code, file]);
  return file;
}

/** The masked-pixel count the composer shows ("1,234 (0.75%)" → 1234). */
async function maskedCount(composer: Locator): Promise<number> {
  const text = await composer.locator('[data-field="masked"]').innerText();
  return Number(text.split(' ')[0].replace(/,/g, ''));
}

/** Pixels the mask overlay paints (its non-transparent pixels). */
function overlayCount(composer: Locator): Promise<number> {
  return composer.getByTestId('mask-overlay').evaluate(node => {
    const canvas = node as HTMLCanvasElement;
    const data = canvas
      .getContext('2d')!
      .getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) {
      n += data[i] > 0 ? 1 : 0;
    }
    return n;
  });
}

async function openXpcsRun(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
  const sidebar = page.locator(SIDEBAR);
  await expect(sidebar.getByLabel('Catalog')).toContainText('demo', {
    timeout: 60_000
  });
  await sidebar.getByLabel('Catalog').selectOption('demo');
  const grid = sidebar.getByTestId('run-grid');
  const xpcs = grid
    .locator('.ag-row[row-index]')
    .filter({ hasText: 'count' })
    .first();
  await expect(xpcs).toBeVisible({ timeout: 180_000 });
  await xpcs.locator('[col-id="owner"]').click();
  return sidebar;
}

test.describe('Mask composer', () => {
  test.setTimeout(240_000);

  test('upload a ZIP, threshold, draw a circle, undo, save, listed and picked', async ({
    page
  }) => {
    const sidebar = await openXpcsRun(page);
    const masks = sidebar.locator('section[data-section="masks"]');
    await masks.getByRole('button', { name: 'Compose a mask' }).click();
    const composer = page.locator('.jp-raydata-Composer');
    await expect(composer.getByTestId('mask-image')).toHaveAttribute(
      'data-status',
      'ready',
      { timeout: 60_000 }
    );
    await expect(composer.locator('[data-field="used"]')).toHaveText('16,384');
    expect(await maskedCount(composer)).toBe(0);

    // The ZIP's two masks become two layers; the EDF's 1 = masked is taken as such.
    await composer
      .locator('input[aria-label="Upload mask files"]')
      .setInputFiles(maskZip());
    await expect(composer.locator('.jp-raydata-Layer')).toHaveCount(2);
    await expect(composer.locator('.jp-raydata-Layer').nth(1)).toContainText(
      'row.edf (non-zero = masked)'
    );
    await expect.poll(() => maskedCount(composer)).toBe(4 * 128 + 124);
    await expect.poll(() => overlayCount(composer)).toBe(4 * 128 + 124);

    // A threshold on the run's average adds to it: pixels averaging above 2 counts.
    await composer.getByRole('button', { name: 'Value range' }).click();
    await expect(composer.locator('.jp-raydata-Layer')).toHaveCount(3);
    await composer.getByLabel('Max', { exact: true }).fill('2');
    await composer.getByLabel('Max', { exact: true }).press('Enter');
    await expect(composer.locator('.jp-raydata-Layer').nth(2)).toContainText(
      'outside 0 … 2'
    );
    await expect.poll(() => maskedCount(composer)).toBeGreaterThan(636);
    const thresholded = await maskedCount(composer);
    await expect.poll(() => overlayCount(composer)).toBe(thresholded);

    // Draw a circle away from the bright centre: more pixels masked, and painted.
    await composer.getByRole('radio', { name: 'Circle' }).click();
    const box = (await composer.getByTestId('mask-canvas').boundingBox())!;
    const cx = box.x + box.width / 2 + box.height * 0.3;
    const cy = box.y + box.height * 0.8;
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    await page.mouse.move(cx + 20, cy, { steps: 5 });
    await page.mouse.up();
    await expect(composer.locator('.jp-raydata-Layer')).toHaveCount(4);
    await expect(composer.locator('.jp-raydata-Layer').nth(3)).toContainText(
      'Circle'
    );
    await expect.poll(() => maskedCount(composer)).toBeGreaterThan(thresholded);
    const withCircle = await maskedCount(composer);
    await expect.poll(() => overlayCount(composer)).toBe(withCircle);

    // Undo takes the circle back, counts and overlay with it.
    await composer.getByRole('button', { name: 'Undo' }).click();
    await expect(composer.locator('.jp-raydata-Layer')).toHaveCount(3);
    await expect.poll(() => maskedCount(composer)).toBe(thresholded);
    await expect.poll(() => overlayCount(composer)).toBe(thresholded);

    // Save by name: the mask is listed in the sidebar, with its counts.
    await composer.getByLabel('Mask name').fill('ui-mask');
    await composer.getByRole('button', { name: 'Save' }).click();
    await expect(composer).toContainText('Saved as ui-mask.');
    const item = page.locator(`${SIDEBAR} [data-mask="ui-mask"]`);
    await expect(item).toBeVisible();
    await expect(item).toContainText(
      `128×128, ${thresholded.toLocaleString('en-US')} masked`
    );
    // The Analysis section's mask picker offers it.
    const picker = page.locator(`${SIDEBAR} #jp-raydata-param-mask`);
    await picker.selectOption('ui-mask');
    await expect(picker).toHaveValue('ui-mask');
  });

  test('a notebook renders MaskEditor and a selection changes .mask', async ({
    page
  }) => {
    await page.notebook.createNew('editor.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      [
        'import numpy as np',
        'from jupyterlab_raydata.widgets import MaskEditor',
        'image = np.random.default_rng(0).poisson(5.0, (64, 80)).astype(float)',
        'editor = MaskEditor(image)',
        'editor'
      ].join('\n')
    );
    await page.notebook.runCell(0);
    const figure = page.locator('.bqplot.figure').first();
    await expect(figure).toBeVisible({ timeout: 60_000 });
    await expect(page.getByText('0 of 5,120 pixels masked')).toBeVisible();

    // Brush a rectangle over the middle of the plot area, then exclude it.
    const plot = (await figure.locator('.plotarea_events').boundingBox())!;
    await page.mouse.move(
      plot.x + plot.width * 0.3,
      plot.y + plot.height * 0.3
    );
    await page.mouse.down();
    await page.mouse.move(
      plot.x + plot.width * 0.6,
      plot.y + plot.height * 0.7,
      {
        steps: 8
      }
    );
    await page.mouse.up();
    await page.getByRole('button', { name: 'Exclude' }).click();
    await expect(
      page.getByText(/^[1-9][\d,]* of 5,120 pixels masked, 1 layers$/)
    ).toBeVisible();

    await page.notebook.addCell(
      'code',
      'print(int((~editor.mask).sum()), editor.recipe["layers"][0]["kind"])'
    );
    const last = (await page.notebook.getCellCount()) - 1;
    await page.notebook.runCell(last);
    const output = await page.notebook.getCellTextOutput(last);
    const [masked, kind] = output![0].trim().split(' ');
    expect(Number(masked)).toBeGreaterThan(0);
    expect(kind).toBe('rectangle');
    const shown = await page.getByText(/ of 5,120 pixels masked/).innerText();
    expect(
      shown.startsWith(Number(masked).toLocaleString('en-US') + ' of')
    ).toBe(true);
  });
});
