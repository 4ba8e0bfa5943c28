// Drives the reference desk page in Debian's Chromium with playwright-core (no browser download).
// Started by test_desk_browser.py:  node desk_browser.mjs '<json options>'
// Options: url (http://127.0.0.1:PORT), token, customer (display name expected in the offer),
// text (the customer's first message), reply, history (a subject from the customer's history),
// screenshot (PNG path), userDataDir (a fresh directory).
// Protocol on stdout, one line each: "READY" once signed in (the test then produces the contact),
// then "RESULT <json>" at the end. Any failure: "ERROR <message>" and exit code 1.
import { drive, say } from "./browser.mjs";

const opt = JSON.parse(process.argv[2]);
const timeout = opt.timeout ?? 60000;

await drive(opt, { width: 1280, height: 900 }, async (page, consoleErrors) => {
  await page.goto(opt.url + "/desk/", { timeout });
  await page.getByTestId("token").fill(opt.token);
  await page.getByTestId("sign-in").click();
  await page.getByTestId("status").filter({ hasText: "online" }).waitFor({ timeout });
  // Presence `available` is sent by the page on welcome; wait for its ack round trip to settle.
  await page.waitForFunction(() => document.getElementById("presence-box").hidden === false);
  say("READY");

  const offer = page.getByTestId("offer").filter({ hasText: opt.customer });
  await offer.waitFor({ timeout });
  const offerText = await offer.innerText();
  await offer.getByTestId("accept").click();

  const work = page.getByTestId("work");
  await work.waitFor({ state: "visible", timeout });
  await page.getByTestId("msg-customer").first().waitFor({ timeout });
  const customerMessage = await page.getByTestId("msg-customer").first().innerText();
  let historyItems = [];
  if (opt.history) {
    await page.getByTestId("history-item").filter({ hasText: opt.history }).first()
      .waitFor({ timeout: 15000 }).catch(() => {});
    historyItems = await page.getByTestId("history-item").allInnerTexts();
  }

  await page.getByTestId("reply-text").fill(opt.reply);
  await page.getByTestId("send-reply").click();
  await page.getByTestId("msg-agent").filter({ hasText: opt.reply }).waitFor({ timeout });

  // Cyrillic must render with a real font, not as missing-glyph boxes: the page's font stack
  // must have a face covering the text, and the glyphs must have width.
  const rendering = await page.evaluate((text) => {
    const el = document.querySelector("[data-testid=msg-customer]");
    const family = getComputedStyle(el).fontFamily;
    const covered = document.fonts.check("16px " + family, text);
    const c = document.createElement("canvas").getContext("2d");
    c.font = "16px " + family;
    const cyr = c.measureText(text).width;
    const tofu = c.measureText("\u{10FFFD}".repeat([...text].length)).width;
    return { family, covered, width: cyr, tofuWidth: tofu };
  }, opt.text);

  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });

  await page.getByTestId("disposition").fill("solved");
  await page.getByTestId("complete").click();
  await page.getByTestId("notice").filter({ hasText: "Completed" }).waitFor({ timeout });
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot.replace(/\.png$/, "-done.png") });

  say("RESULT " + JSON.stringify({ offerText, customerMessage, historyItems, rendering, consoleErrors }));
});
