/**
 * Debian's Chromium driven by playwright-core (no browser download): the launch every browser test and the
 * console screenshot script use. Without /usr/bin/chromium a test skips, or fails under CI=true, with the
 * command that installs it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const MISSING_CHROMIUM = `${CHROMIUM} is missing: install Debian's Chromium with \`apt-get install -y chromium\``;

/** Why browser tests cannot run here (undefined when they can); throws instead under CI=true. */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI === 'true') throw new Error(MISSING_CHROMIUM);
  return MISSING_CHROMIUM;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}
