import { expect, test } from '@jupyterlab/galata';

/** WCAG relative luminance of an `rgb(r, g, b)` colour. */
function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(v => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
  test(`sidebar text is readable in ${theme}`, async ({ page }) => {
    await page.theme.setTheme(theme);
    await page.locator('.jp-SideBar [data-id="jp-raydata-sidebar"]').click();
    const sidebar = page.locator('#jp-raydata-sidebar');
    await sidebar.locator('section[data-section="server"] button').click();
    const value = sidebar.locator('[data-field="executor"]');
    await expect(value).toHaveText('LocalCluster');
    const colours = await value.evaluate(element => {
      const panel = element.closest('.jp-raydata-Sidebar') as HTMLElement;
      return {
        text: getComputedStyle(element).color,
        background: getComputedStyle(panel).backgroundColor
      };
    });
    expect(contrast(colours.text, colours.background)).toBeGreaterThan(4.5);
  });
}
