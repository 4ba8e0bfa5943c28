// Drives the web-chat widget page (/chat/) in Debian's Chromium with playwright-core.
// Started by test_webchat_browser.py:  node webchat_browser.mjs '<json options>'
// Options: url (http://127.0.0.1:PORT), text (the visitor's message), reply (the agent's answer
// the test produces on omni.outbound), screenshot (PNG path), userDataDir, executablePath.
// Protocol on stdout, one line each: "SENT <visitor id>" once the message is acknowledged (the
// test then finds the contact and produces the reply), then "RESULT <json>" at the end.
// Any failure: "ERROR <message>" and exit code 1.
import { drive, say, sendAsVisitor } from "./browser.mjs";

const opt = JSON.parse(process.argv[2]);
const timeout = opt.timeout ?? 60000;

await drive(opt, { width: 1000, height: 700 }, async (page, consoleErrors) => {
  await page.goto(opt.url + "/chat/", { timeout });
  await sendAsVisitor(page, opt.text, timeout);
  const visitor = await page.getByTestId("chat").getAttribute("data-visitor");
  say("SENT " + visitor);

  await page.getByTestId("msg-agent").filter({ hasText: opt.reply }).waitFor({ timeout });
  const rendering = await page.evaluate((text) => {
    const el = document.querySelector("[data-testid=msg-visitor]");
    const family = getComputedStyle(el).fontFamily;
    const covered = document.fonts.check("15px " + family, text);
    const c = document.createElement("canvas").getContext("2d");
    c.font = "15px " + family;
    return { family, covered, width: c.measureText(text).width };
  }, opt.text);
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot });

  // Reload: the widget resumes with its stored token and the server replays the history.
  await page.reload({ timeout });
  await page.getByTestId("chat-status").filter({ hasText: "online" }).waitFor({ timeout });
  await page.getByTestId("msg-agent").filter({ hasText: opt.reply }).waitFor({ timeout });
  const afterReload = await page.locator("[data-testid^=msg-]").allInnerTexts();
  const panelOpen = await page.getByTestId("chat-panel").isVisible();
  const visitorAfter = await page.getByTestId("chat").getAttribute("data-visitor");
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot.replace(/\.png$/, "-reloaded.png") });

  say("RESULT " + JSON.stringify({ visitor, visitorAfter, afterReload, panelOpen, rendering,
                                   consoleErrors }));
});
