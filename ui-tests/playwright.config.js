/**
 * Galata in Debian's Chromium: Playwright cannot download its own browsers (or its ffmpeg) here.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const os = require('os');
const path = require('path');

const port = process.env.RAYDATA_UI_PORT || '8898';
const baseURL = `http://127.0.0.1:${port}`;
// Raydata's state and the tests' catalogs; the server under test wipes it when it starts.
process.env.RAYDATA_UI_ROOT =
  process.env.RAYDATA_UI_ROOT || path.join(os.tmpdir(), `raydata-ui-${port}`);

module.exports = {
  ...baseConfig,
  reporter: [['list'], ['html', { open: 'never' }]],
  // No retries: a retry hides races that users would meet.
  retries: 0,
  use: {
    ...baseConfig.use,
    baseURL,
    // The facility's zone: local-time bugs cannot hide in UTC.
    timezoneId: 'America/New_York',
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: `jlpm start --port ${port}`,
    url: `${baseURL}/lab`,
    timeout: 180 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
