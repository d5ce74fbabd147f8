/**
 * Debian's chromium driven by playwright-core (no browser download): headless, one context per
 * test file. Fails loudly when chromium is missing, so CI (which installs it through
 * scripts/install-test-deps.sh) can never pass these tests by skipping them.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The console tests need Debian's chromium at ${CHROMIUM}: run scripts/install-test-deps.sh ` +
        '(apt-get install chromium) or set CHROMIUM_PATH',
    );
  }
  // As root (CI, these machines) chromium refuses to start without --no-sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}
