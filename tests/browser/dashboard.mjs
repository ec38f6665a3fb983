// Drives the dashboard in headless Chromium, as a person would: log in with a key, walk app groups → instance,
// start a training run and watch its bar reach 100% and the metric chart gain a point, pin and unpin a generation,
// cancel a queued task, read the data status and the API reference. Screenshots go to ARTIFACTS.
//
// Run by tests/e2e/test_dashboard_browser.py, which starts the servers and prepares their data; configured by
// environment variables (see `need` below). Exits non-zero with the failed expectation on any mismatch.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const BASE = need("DASHBOARD_URL"); // server with a worker: http://127.0.0.1:PORT
const QUEUE_BASE = need("DASHBOARD_QUEUE_URL"); // server without workers: tasks stay queued
const KEY_ID = need("DASHBOARD_KEY_ID");
const SECRET = need("DASHBOARD_KEY_SECRET");
const APP = need("DASHBOARD_APP");
const CTR = need("DASHBOARD_CTR_INSTANCE"); // trained once already
const POP = need("DASHBOARD_POP_INSTANCE"); // on the queue server, never trained
const ARTIFACTS = need("ARTIFACTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // Without the background-networking flags Chromium keeps calling out to Google, which this sandbox refuses.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (message) => {
  // A refused login answers 401, which Chromium logs as a failed resource; the steps check statuses themselves.
  if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
    consoleErrors.push(message.text());
  }
});
page.on("pageerror", (error) => consoleErrors.push(String(error)));
let step = "start";
const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

async function login(base, secret) {
  await page.goto(`${base}/ui`);
  assert.equal(new URL(page.url()).pathname, "/ui/login", "an anonymous visit lands on the login form");
  await page.fill("input[name=key_id]", KEY_ID);
  await page.fill("input[name=secret]", secret);
  await page.click("form.login button[type=submit]");
}

/** Polls `probe` (run in Node, may use `page`) until it returns a truthy value. */
async function until(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const rowOf = (generation) => page.locator(`#live tr[data-generation="${generation}"]`);
const chartPoints = async (metric) =>
  Number(await page.locator(`figure[data-metric="${metric}"]`).getAttribute("data-points"));

try {
  step = "a wrong secret is refused";
  await login(BASE, SECRET + "x");
  await page.locator("p.error").waitFor();
  assert.match(await page.locator("p.error").innerText(), /wrong secret/);
  await shot("01-login-refused");

  step = "log in and open the app group";
  await page.fill("input[name=key_id]", KEY_ID);
  await page.fill("input[name=secret]", SECRET);
  await page.click("form.login button[type=submit]");
  await page.waitForURL(`${BASE}/ui`);
  await shot("02-app-groups");
  await page.click(`table.apps a:text-is("${APP}")`);
  await page.waitForURL(new RegExp(`/ui/apps/${APP}$`));

  step = "the app group lists its instances and its data status";
  const instanceRow = page.locator(`table.instances tr[data-instance="${CTR}"]`);
  assert.match(await instanceRow.innerText(), /ctr[\s\S]*available/);
  const header = await page.locator("table.data-status thead").innerText();
  for (const kind of ["search", "expose", "click"]) assert.ok(header.includes(kind), `data status shows ${kind}`);
  assert.ok((await page.locator("table.data-status tbody tr").count()) >= 3, "several days of data");
  await shot("03-app-group");

  step = "the instance page shows generation 1 and its chart";
  await instanceRow.locator("a").click();
  await page.waitForURL(new RegExp(`/instances/${CTR}$`));
  assert.equal(await rowOf(1).getAttribute("data-status"), "success");
  assert.equal(await page.inputValue("#metric"), "auc_within_position", "the chart opens on the headline metric");
  assert.equal(await chartPoints("auc_within_position"), 1);
  assert.ok(await page.locator('figure[data-metric="auc_within_position"]').isVisible());
  await shot("04-instance-before");

  step = "start a run from the page and watch it to 100%";
  await page.click("#start-task");
  await page.locator("p.notice").waitFor();
  assert.match(await page.locator("p.notice").innerText(), /Generation 2 queued/);
  const seen = [];
  // The page refreshes itself: no reload from here on.
  await until("generation 2 to succeed", async () => {
    if ((await rowOf(2).count()) === 0) return false;
    const value = Number(await rowOf(2).locator("progress").getAttribute("value"));
    if (seen[seen.length - 1] !== value) seen.push(value);
    return (await rowOf(2).getAttribute("data-status")) === "success";
  });
  assert.equal(Number(await rowOf(2).locator("progress").getAttribute("value")), 100, "the bar ends full");
  assert.deepEqual([...seen].sort((a, b) => a - b), seen, `progress never goes back: ${seen}`);
  await until("the chart to gain a point", async () => (await chartPoints("auc_within_position")) === 2);
  assert.equal(await page.locator('figure[data-metric="auc_within_position"] circle.point').count(), 2);
  assert.equal(await page.locator("#serving-generation").innerText(), "2");
  await shot("05-instance-after-run");

  step = "another metric's chart is one choice away";
  const metrics = await page.locator("#metric option").allTextContents();
  assert.ok(metrics.includes("baseline_lr_auc"), `metrics offered: ${metrics}`);
  await page.selectOption("#metric", "baseline_lr_auc");
  assert.ok(await page.locator('figure[data-metric="baseline_lr_auc"]').isVisible());
  assert.ok(!(await page.locator('figure[data-metric="auc_within_position"]').isVisible()));

  step = "pin generation 1, then unpin";
  await rowOf(1).locator("button.pin-button").click();
  await page.locator("p.notice").waitFor();
  assert.match(await page.locator("p.notice").innerText(), /Generation 1 pinned/);
  assert.equal(await page.locator("#serving-generation").innerText(), "1");
  assert.match(await page.locator("#pinned").innerText(), /pinned to 1/);
  await shot("06-pinned");
  await page.click("#unpin");
  await page.locator("p.notice").waitFor();
  assert.match(await page.locator("p.notice").innerText(), /Unpinned: generation 2 serves/);
  assert.equal(await page.locator("#pinned").count(), 0);

  step = "the API reference lists every endpoint of /openapi.json";
  await page.click("header nav a:text-is('API reference')");
  const openapi = await (await page.request.get(`${BASE}/openapi.json`)).json();
  const operations = Object.values(openapi.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  assert.equal(await page.locator("table.api tbody tr").count(), operations);
  await shot("07-api-reference");

  step = "log out";
  await page.click("header form.logout button");
  await page.waitForURL(/\/ui\/login$/);
  await page.goto(`${BASE}/ui/apps/${APP}`);
  assert.equal(new URL(page.url()).pathname, "/ui/login", "the session ended");

  step = "on a server without workers, a queued task is cancelled from its page";
  await login(QUEUE_BASE, SECRET);
  await page.waitForURL(`${QUEUE_BASE}/ui`);
  await page.goto(`${QUEUE_BASE}/ui/apps/${APP}/functions/pop/instances/${POP}`);
  await page.click("#start-task");
  await page.locator("p.notice").waitFor();
  assert.equal(await rowOf(1).getAttribute("data-status"), "queued");
  page.once("dialog", (dialog) => dialog.accept());
  await rowOf(1).locator("button.cancel").click();
  await page.locator("p.notice").waitFor();
  assert.match(await page.locator("p.notice").innerText(), /Generation 1 cancelled/);
  assert.equal(await rowOf(1).getAttribute("data-status"), "failed");
  assert.equal(await rowOf(1).locator("td.errors").innerText(), "cancelled");
  await shot("08-cancelled");

  assert.deepEqual(consoleErrors, [], "no script errors in the pages");
  console.log(`dashboard: all steps passed; progress seen ${JSON.stringify(seen)}; screenshots in ${ARTIFACTS}`);
} catch (error) {
  await shot("failure").catch(() => {});
  console.error(`dashboard step failed: ${step}\n${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
