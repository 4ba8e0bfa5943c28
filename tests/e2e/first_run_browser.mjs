// The first run, as a newcomer does it: the customer chat page and the agent desk side by side in
// Debian's Chromium (playwright-core). Started by test_first_run.py:
//   node first_run_browser.mjs '<json options>'
// Options: chatUrl and deskUrl (as the daemon's log printed them), token (the demo agent's, from
// the log), text (the customer's message), reply (the agent's answer), screenshot (PNG path),
// userDataDir, executablePath.
// Protocol on stdout: "RESULT <json>" at the end; any failure: "ERROR <message>" and exit code 1.
import { drive, say, sendAsVisitor } from "./browser.mjs";

const opt = JSON.parse(process.argv[2]);
const timeout = opt.timeout ?? 60000;

await drive(opt, { width: 1100, height: 800 }, async (desk, consoleErrors) => {
  // The agent signs in first, so the contact has someone to go to.
  await desk.goto(opt.deskUrl, { timeout });
  await desk.getByTestId("token").fill(opt.token);
  await desk.getByTestId("sign-in").click();
  await desk.getByTestId("status").filter({ hasText: "online" }).waitFor({ timeout });
  await desk.waitForFunction(() => document.getElementById("presence-box").hidden === false);

  // The customer, in another tab.
  const chat = await desk.context().newPage();
  chat.on("console", (m) => { if (m.type() === "error") consoleErrors.push("chat: " + m.text()); });
  chat.on("pageerror", (e) => consoleErrors.push("chat: " + String(e)));
  await chat.goto(opt.chatUrl, { timeout });
  await sendAsVisitor(chat, opt.text, timeout);

  // The agent gets the offer with the customer's words, accepts and answers.
  const offer = desk.getByTestId("offer").filter({ hasText: opt.text });
  await offer.waitFor({ timeout });
  const offerText = await offer.innerText();
  await offer.getByTestId("accept").click();
  await desk.getByTestId("work").waitFor({ state: "visible", timeout });
  const customerMessage = await desk.getByTestId("msg-customer").first().innerText();
  await desk.getByTestId("reply-text").fill(opt.reply);
  await desk.getByTestId("send-reply").click();
  await desk.getByTestId("msg-agent").filter({ hasText: opt.reply }).waitFor({ timeout });

  // The customer sees the answer.
  await chat.getByTestId("msg-agent").filter({ hasText: opt.reply }).waitFor({ timeout });
  const chatShows = await chat.locator("[data-testid^=msg-]").allInnerTexts();
  if (opt.screenshot) {
    await desk.screenshot({ path: opt.screenshot.replace(/\.png$/, "-desk.png") });
    await chat.screenshot({ path: opt.screenshot.replace(/\.png$/, "-chat.png") });
  }
  say("RESULT " + JSON.stringify({ offerText, customerMessage, chatShows, consoleErrors }));
});
