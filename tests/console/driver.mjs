// A browser for tests/integration/test_console.py: Debian's chromium driven
// by playwright-core (no browser download), answering one JSON command per
// line on stdin with one JSON line on stdout, so that the Python test keeps
// the scenario (peers killed, files sent) and the browser stays open
// throughout.
//
//   node driver.mjs '{"user": "u", "password": "p", "width": 1280, "height": 800}'
//   stdin:  {"op": "goto", "url": "..."}        stdout: {"ok": true, "value": ...}
//                                                  or {"ok": false, "error": "..."}
// The context replays the credentials to any server that asks (as a browser
// that remembers basic auth does): what a cross-site page relies on.
import { chromium } from "playwright-core";
import readline from "node:readline";

const options = JSON.parse(process.argv[2] || "{}");
const browser = await chromium.launch({
  executablePath: options.executablePath || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({
  httpCredentials: options.user ? { username: options.user, password: options.password } : undefined,
  viewport: { width: options.width || 1280, height: options.height || 800 },
});
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));
page.on("dialog", (d) => d.dismiss());  // no window.confirm is expected: the console uses <dialog>

const ops = {
  goto: async ({ url }) => { await page.goto(url); return page.url(); },
  // Loads a page and waits for the first response whose URL contains `match`.
  gotoAndWaitResponse: async ({ url, match, timeout }) => {
    const waiting = page.waitForResponse((r) => r.url().includes(match), { timeout: timeout || 10000 });
    await page.goto(url);
    const response = await waiting;
    return { status: response.status(), url: response.url(), body: await response.text().catch(() => "") };
  },
  click: async ({ selector }) => { await page.click(selector); },
  press: async ({ key }) => { await page.keyboard.press(key); },
  focused: async () => page.evaluate(() => {
    const a = document.activeElement;
    return a ? { tag: a.tagName, text: (a.textContent || "").trim(), id: a.id } : null;
  }),
  select: async ({ selector, value }) => { await page.selectOption(selector, value); },
  fill: async ({ selector, value }) => { await page.fill(selector, value); },
  setInputFiles: async ({ selector, files }) => { await page.setInputFiles(selector, files); },
  waitVisible: async ({ selector, timeout }) => { await page.waitForSelector(selector, { state: "visible", timeout }); },
  waitHidden: async ({ selector, timeout }) => { await page.waitForSelector(selector, { state: "hidden", timeout }); },
  // Waits until the element's text contains `text`; answers that text.
  waitText: async ({ selector, text, timeout }) => {
    await page.waitForFunction(([s, t]) => {
      const e = document.querySelector(s);
      return e && e.textContent.includes(t);
    }, [selector, text], { timeout: timeout || 10000, polling: 100 });
    return page.textContent(selector);
  },
  // The same, until the text matches the regular expression `pattern`.
  waitMatch: async ({ selector, pattern, timeout }) => {
    await page.waitForFunction(([s, p]) => {
      const e = document.querySelector(s);
      return e && new RegExp(p).test(e.textContent);
    }, [selector, pattern], { timeout: timeout || 10000, polling: 100 });
    return page.textContent(selector);
  },
  text: async ({ selector }) => page.textContent(selector),
  count: async ({ selector }) => page.locator(selector).count(),
  visible: async ({ selector }) => page.isVisible(selector),
  screenshot: async ({ path, fullPage }) => { await page.screenshot({ path, fullPage: !!fullPage }); return path; },
  viewport: async ({ width, height }) => { await page.setViewportSize({ width, height }); },
  // Waits for a download started by clicking `selector`; saves it to `path`.
  download: async ({ selector, path }) => {
    const waiting = page.waitForEvent("download");
    await page.click(selector);
    const download = await waiting;
    await download.saveAs(path);
    return download.suggestedFilename();
  },
  consoleErrors: async () => consoleErrors.splice(0),
  close: async () => { await browser.close(); return "closed"; },
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const command = JSON.parse(line);
    const op = ops[command.op];
    if (!op) throw new Error(`unknown op ${command.op}`);
    answer = { ok: true, value: (await op(command)) ?? null };
  } catch (e) {
    answer = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (answer.value === "closed") break;
}
if (browser.isConnected()) await browser.close();
