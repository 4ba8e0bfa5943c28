// What the browser drivers (desk_, webchat_, first_run_browser.mjs) share: Debian's Chromium
// started headless by playwright-core (no browser download), console errors collected, and the
// stdout protocol their Python tests read ("<WORD> ..." lines; "ERROR <message>" + exit 1);
// and a web chat visitor's message, sent and acknowledged.
import { chromium } from "playwright-core";

export const say = (line) => process.stdout.write(line + "\n");

// Runs `main(page, consoleErrors)` in a fresh persistent context; reports a throw as ERROR.
export async function drive(opt, viewport, main) {
  let context;
  try {
    context = await chromium.launchPersistentContext(opt.userDataDir, {
      executablePath: opt.executablePath ?? "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update"],
      viewport,
      locale: "ru-RU",
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleErrors = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await main(page, consoleErrors);
    await context.close();
    process.exit(0);
  } catch (e) {
    say("ERROR " + String(e && e.stack || e).replace(/\n/g, " | "));
    if (context) await context.close().catch(() => {});
    process.exit(1);
  }
}

// On the web chat page (/chat/): opens the widget, waits until it is online, sends `text` and
// waits for its acknowledgement (stored in Kafka: the pending style goes and the entry gets its seq).
export async function sendAsVisitor(page, text, timeout) {
  await page.getByTestId("chat-bubble").click();
  await page.getByTestId("chat-status").filter({ hasText: "online" }).waitFor({ timeout });
  await page.getByTestId("chat-input").fill(text);
  await page.getByTestId("chat-send").click();
  await page.locator("[data-testid=msg-visitor][data-seq]").filter({ hasText: text })
    .waitFor({ timeout });
}
