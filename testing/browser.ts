/** Debian's Chromium driven by playwright-core, headless with a fresh profile, stopped whatever a test does. */

import { type BrowserContext, chromium } from "playwright-core";
import { deadline } from "../async/mod.ts";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** How CI installs it. */
export const CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium";

/** No sandbox (containers run as root), no GPU, and none of Chromium's own network traffic. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium executable, or `undefined` when it is not installed. */
export async function findChromium(): Promise<string | undefined> {
  try {
    return (await Deno.stat(CHROMIUM_PATH)).isFile ? CHROMIUM_PATH : undefined;
  } catch {
    return undefined;
  }
}

/** A headless Chromium with its own profile folder; disposing it stops every process of it. */
export interface Chromium extends AsyncDisposable {
  context: BrowserContext;
  /** Every URL the browser requested, in order. */
  requests: string[];
}

/** The pids of the processes whose command line names `profileDir`: this browser's, and only its. */
function processesOfProfile(profileDir: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const commandLine = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (commandLine.includes(`--user-data-dir=${profileDir}`)) pids.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Launches Chromium at `executablePath` with {@link CHROMIUM_ARGS} and a new profile folder.
 * Disposing closes it (at most 10 s), kills whatever of it is left, and removes the profile.
 */
export async function launchChromium(
  executablePath: string,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<Chromium> {
  const profileDir = await Deno.makeTempDir({ prefix: "ppr-chromium-" });
  const requests: string[] = [];
  const dispose = async (context?: BrowserContext) => {
    try {
      if (context) await deadline(context.close(), 10_000);
    } catch {
      // Closing hung: the kill below ends it.
    }
    for (const pid of processesOfProfile(profileDir)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    await Deno.remove(profileDir, { recursive: true }).catch(() => {});
  };
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      timeout: 30_000,
    });
  } catch (error) {
    await dispose();
    throw error;
  }
  context.on("request", (request) => requests.push(request.url()));
  return { context, requests, [Symbol.asyncDispose]: () => dispose(context) };
}

/** Chromium as a browser test finds it. */
export interface ChromiumForTests {
  /** The executable, or `undefined` when it is not installed. */
  path: string | undefined;
  /** Said in a test's name when it cannot run (skipped, or a failure when CI is set); `""` when it can. */
  missing: string;
  /** `true` to skip the test: no Chromium and CI not set. */
  ignore: boolean;
  /** The executable; fails the test, saying how to install it, when there is none. */
  require(): string;
}

/** Finds Chromium for a browser test: without it the test is skipped, or fails when `CI` is set. */
export async function chromiumForTests(): Promise<ChromiumForTests> {
  const path = await findChromium();
  const inCi = (Deno.env.get("CI") ?? "") !== "";
  const missing = path ? "" : ` [Chromium is not installed at ${CHROMIUM_PATH} ` +
    `(${CHROMIUM_INSTALL}): ${inCi ? "a failure, as CI is set" : "skipped"}]`;
  return {
    path,
    missing,
    ignore: !path && !inCi,
    require() {
      if (!path) {
        throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: ${CHROMIUM_INSTALL}`);
      }
      return path;
    },
  };
}

/**
 * Where a browser test's screenshots go: `PPR_SCREENSHOTS` (`PPR_SCREENSHOTS=docs` renews
 * the pictures of docs/dashboard.md), else a new temporary folder.
 */
export async function screenshotsFolder(): Promise<string> {
  return Deno.env.get("PPR_SCREENSHOTS") ??
    await Deno.makeTempDir({ prefix: "ppr-dashboard-screenshots-" });
}
