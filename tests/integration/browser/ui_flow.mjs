// One reviewer's visit to the UI in headless chromium, as test_reviewer_ui_browser.py asks for it:
//   node ui_flow.mjs SCENARIO JSON_ARGS
// Logging in: with args.token, or through the identity provider named args.provider.
// SCENARIO approve: log in, open the queue, print {"ready": true} (the test then
//   holds a request), see the held request of args.cluster appear without a reload, open it,
//   approve it (or args.decision "reject") with a reason, see the queue again.
// SCENARIO inspect: log in, open /ui/approvals/args.id directly (the link Slack and email carry)
//   and report what the page shows: its text, whether any dialog opened or script failed, whether
//   the decision buttons are disabled and why.
// SCENARIO sessions: log in at /ui/sessions, open the newest session of args.cluster whose
//   command is args.command, replay its exec in the player until args.expect shows, and report its
//   exec transcripts and text.
// SCENARIO audit: log in at args.path (/ui/audit?...), page through the results to the end,
//   verify the chain, fetch the export link, then narrow the search to verb args.verb in the form.
// Screenshots go to args.shots. Prints one JSON line with what it saw; exits 1 on a failed step.
import { chromium } from "playwright-core";

const [scenario, raw] = process.argv.slice(2);
const args = JSON.parse(raw);
const seen = { dialogs: [], consoleErrors: [], pageErrors: [], steps: [] };

const browser = await chromium.launch({
  executablePath: args.chromium,
  // Trust exactly the gateway's serving key (its SPKI hash), not any certificate: real TLS,
  // so the Secure cookie behaves as in a reviewer's browser.
  args: [`--ignore-certificate-errors-spki-list=${args.spki}`, "--no-sandbox"],  // spki: a comma-separated list
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  page.on("dialog", async (d) => { seen.dialogs.push(d.message()); await d.dismiss(); });
  page.on("console", (m) => { if (m.type() === "error") seen.consoleErrors.push(m.text()); else (seen.console ??= []).push(m.type() + ": " + m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) (seen.failedUrls ??= []).push(r.status() + " " + r.url()); });
  page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  const label = args.label || scenario;  // names this visit's screenshots
  const shot = (name) => page.screenshot({ path: `${args.shots}/${label}-${name}.png`, fullPage: true });

  const start = { inspect: `/ui/approvals/${args.id}`, sessions: "/ui/sessions", audit: args.path }[scenario] || "/ui/";
  await page.goto(args.base + start);
  if (args.provider) {  // through the identity provider and back (it logs in whoever the test named)
    const button = page.locator("a.button", { hasText: "Log in with " + args.provider });
    await button.waitFor();
    await shot("login");
    await button.click();
  } else {
    await page.fill("#token", args.token);
    await shot("login");
    await page.click("button[type=submit]");
  }
  await page.waitForSelector("#logout:not([hidden])");
  seen.urlAfterLogin = page.url();
  seen.steps.push("logged in as " + (await page.textContent("#who")));

  if (scenario === "approve") {
    // The queue is open before the request is held: it must appear without a reload.
    await page.waitForSelector("h1:has-text('Pending approvals')");
    const navigations = [];
    page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
    console.log(JSON.stringify({ ready: true }));
    const row = page.locator("tr", { hasText: args.cluster });
    await row.waitFor({ timeout: 20000 });
    seen.reloadsBeforeRow = navigations.length;
    await shot("queue");
    await row.locator("a").click();
    await page.waitForSelector("#approve");
    seen.approvalText = await page.textContent("main");
    seen.diffAdded = await page.locator("#diff .add").count();
    seen.diffAddedColour = await page.locator("#diff .add").first().evaluate((e) => getComputedStyle(e).color).catch(() => "");
    await shot("approval");
    await page.fill("#reason", args.reason);
    const decision = args.decision || "approve";
    await page.click("#" + decision);
    await page.waitForSelector("h1:has-text('Pending approvals')");
    await shot("after");
    seen.steps.push(decision === "approve" ? "approved" : "rejected");
    if (args.filterAfter) {  // the decided request, found again through the queue's filters
      await page.selectOption("#f-state", "executed");
      await page.fill("#f-cluster", args.cluster);
      await page.click("#filters button[type=submit]");
      await page.locator("tr", { hasText: "executed" }).filter({ hasText: args.cluster }).waitFor({ timeout: 20000 });
      seen.filteredUrl = page.url();
      await shot("filtered");
      seen.steps.push("found executed");
    }
  } else if (scenario === "inspect") {
    await page.waitForSelector("main h1");
    seen.approvalText = await page.textContent("main");
    seen.images = await page.locator("main img").count();
    seen.scripts = await page.evaluate(() => document.scripts.length);
    if (await page.locator("#approve").count()) {
      seen.approveDisabled = await page.isDisabled("#approve");
      seen.rejectDisabled = await page.isDisabled("#reject");
    }
    if (await page.locator("#why").count()) seen.why = await page.textContent("#why");
    if (args.forgeCsrf) {  // what a script of another origin could at best send: the cookie, a guessed token
      seen.forged = await page.evaluate(async (id) => {
        const r = await fetch(`/ui/api/approvals/${id}/approve`, { method: "POST", body: JSON.stringify({ reason: "forged" }),
          headers: { "Content-Type": "application/json", "X-CSRF-Token": "0".repeat(64) } });
        return { status: r.status, message: (await r.json()).message };
      }, args.id);
    }
    await shot("approval");
  } else if (scenario === "sessions") {
    const row = page.locator("#sessions tr", { hasText: args.command }).filter({ hasText: args.cluster });
    await row.first().waitFor({ timeout: 20000 });
    await shot("list");
    await row.first().locator("a").click();
    await page.waitForSelector(".exchange");
    // The exec replays in asciinema-player, fed by the asciicast endpoint.
    await page.waitForSelector(".player .ap-player");
    await shot("player");
    await page.click(".player .ap-overlay-start");
    await page.waitForFunction((text) => [...document.querySelectorAll(".player .ap-term")]
      .some((t) => t.textContent.includes(text)), args.expect, { timeout: 20000 });
    await page.locator(".player").first().screenshot({ path: `${args.shots}/${label}-played.png` });
    seen.played = true;
    seen.transcript = await page.locator(".transcript").allTextContents();
    seen.sessionText = await page.textContent("main");
    await shot("session");
  } else if (scenario === "audit") {
    const rows = () => page.locator("#audit tbody tr").count();
    await page.waitForSelector("#audit");
    seen.rowsFirst = await rows();
    await shot("search");
    while (await page.locator("#older").count()) {  // keyset pages until the end
      const before = await rows();
      await page.click("#older");
      await page.waitForFunction((n) => document.querySelectorAll("#audit tbody tr").length > n, before);
    }
    seen.rowsAll = await rows();
    seen.auditText = await page.textContent("#audit");
    await page.click("#verify");
    await page.waitForFunction(() => document.getElementById("verify-result").textContent.startsWith("Audit chain"));
    seen.verify = await page.textContent("#verify-result");
    seen.exportHref = await page.getAttribute("#export", "href");
    seen.exportLines = await page.evaluate(async (href) =>
      (await (await fetch(href)).text()).split("\n").filter(Boolean).length, seen.exportHref);
    await shot("verified");
    await page.fill("#a-verb", args.verb);  // a narrower search, typed in the form
    await page.click("#audit-filters button[type=submit]");
    await page.waitForFunction((v) => location.search.includes("verb=" + v), args.verb);
    await page.waitForSelector("#audit");
    seen.filteredUrl = page.url();
    seen.rowsFiltered = await rows();
    await shot("filtered");
  } else {
    throw new Error("unknown scenario " + scenario);
  }
  console.log(JSON.stringify(seen));
} catch (err) {
  if (page) await page.screenshot({ path: `${args.shots}/${args.label || scenario}-failed.png`, fullPage: true }).catch(() => {});
  seen.error = String(err);
  console.log(JSON.stringify(seen));
  process.exitCode = 1;
} finally {
  await browser.close();
}
