// The lab's panels of issue 11 (items 4, 5, 8) in a real browser: all logs side by side, the
// timers, the bug museum. Run with `node --test` after `cargo xtask build`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { serveDist, launch, openPage, screenshot } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await serveDist();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const SMALL = { width: 1280, height: 720 };
const BIG = { width: 1920, height: 1080 };
const lab = (page, attr) => page.$eval("#lab", (el, a) => el.dataset[a], attr);

function noErrors(errors) {
  assert.deepEqual(errors, [], `console errors: ${errors.join("\n")}`);
}

/// The smallest computed font size (CSS px) of the visible text inside `selector`.
async function minFontPx(page, selector) {
  return page.$eval(selector, (root) => {
    let min = Infinity;
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) {
      const el = walk.currentNode.parentElement;
      if (!walk.currentNode.textContent.trim() || !el.getClientRects().length) continue;
      min = Math.min(min, parseFloat(getComputedStyle(el).fontSize));
    }
    return min;
  });
}

for (const [lesson, mode] of [["06", "TRUNC"], ["05", "DIFF"], ["07", "SNAP"]]) {
  test(`the logs view has a column per server and draws lesson ${lesson}'s ${mode}`, async () => {
    const { page, errors } = await openPage(browser, `${server.url}?lesson=${lesson}&step=99&lang=en`, SMALL);
    await page.click("#view-both");
    await page.waitForSelector("#logs table.logs");
    const servers = await page.locator("#cluster [data-node-id]").count();
    assert.ok(servers >= 3);
    assert.equal(await page.locator("#logs th[data-log-server]").count(), servers, "a column per server");
    assert.equal(await page.$eval("#logs", (el) => Number(el.dataset.servers)), servers);
    // The decision is named in the learner's column head, with the leader's reason, and
    // marked on the zxid it goes to.
    const line = page.locator(`#logs .sync-line[data-sync-mode="${mode}"]`);
    assert.ok((await line.count()) >= 1, `a ${mode} decision in a column head`);
    assert.ok((await line.first().getAttribute("data-sync-reason")).length > 0);
    assert.ok((await page.locator(`#logs [data-sync-mark="${mode}"]`).count()) >= 1, `${mode} marked on its zxid`);
    if (mode === "TRUNC") {
      // Lesson 06: the old leader's proposal only it logged is cut.
      assert.ok((await page.locator("#logs td.trunc-cut, #logs td.trunc-point").count()) >= 1);
    }
    const committed = await page.locator('#logs td[data-cell="logged"].committed').count();
    assert.ok(committed > 0, "committed cells");
    const min = await minFontPx(page, "#logs");
    assert.ok(min >= 14, `logs text ${min} px at 1280x720`);
    await page.click("#view-logs");
    await screenshot(page, `panels-logs-${lesson}-${mode.toLowerCase()}-1280`);
    noErrors(errors);
    await page.close();
  });
}

test("a session's expiry countdown decreases as simulated time advances, and every timer text is >= 14 px", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?t=3000&paused=1`, SMALL);
  const leader = await lab(page, "leader");
  assert.ok(leader, "a leader at 3 s");
  await page.selectOption("#write-server", leader);
  await page.click("#send-write");
  // Step event by event (the scrubber only reaches what was explored) until time t.
  const stepTo = async (t) => {
    for (let i = 0; i < 100 && Number(await lab(page, "time")) < t; i++) {
      await page.$eval("#step", (b) => {
        for (let k = 0; k < 10; k++) b.click();
      });
    }
    return Number(await lab(page, "time"));
  };
  const remaining = () =>
    page.$eval(`#timers .timer[data-server="${leader}"][data-timer="sessionExpiry"]`, (el) => Number(el.dataset.remainingMs));
  const t1 = await stepTo(3500);
  const first = await remaining();
  const t2 = await stepTo(4500);
  const second = await remaining();
  assert.ok(t1 >= 3500 && t2 >= 4500, `${t1} ${t2}`);
  assert.ok(first > 0 && second > 0, `${first} ${second}`);
  assert.ok(second < first, `the countdown decreased: ${first} -> ${second}`);
  assert.equal(first - second, t2 - t1, "by the simulated time that passed");
  // The leader's quorum check and its learners' syncLimit deadlines are running too.
  const kinds = await page.$$eval(`#timers .timer[data-server="${leader}"]`, (els) => els.map((e) => e.dataset.timer));
  assert.ok(kinds.includes("quorumCheck") && kinds.includes("learnerSyncLimit"), kinds.join(","));
  const min = await minFontPx(page, "#timers");
  assert.ok(min >= 14, `timer text ${min} px at 1280x720`);
  await screenshot(page, "panels-timers-1280");
  noErrors(errors);
  await page.close();
});

test("while LOOKING the timers show the notification timeout and the vote box says what it waits for", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?paused=1`, SMALL);
  for (let i = 0; i < 6; i++) await page.click("#step");
  assert.ok((await page.locator('#timers .timer[data-timer="notificationTimeout"]').count()) >= 1);
  await page.click('#cluster [data-node-id="1"]');
  const status = page.locator("#vote-status");
  await status.waitFor();
  assert.match(await status.textContent(), /quorum/i);
  // Step until some server's finalizeWait runs (a quorum agrees) and check the vote box says so.
  let seen = false;
  for (let i = 0; i < 200 && !seen; i++) {
    await page.click("#step");
    seen = (await page.locator('#timers .timer[data-timer="finalizeWait"]').count()) > 0;
  }
  assert.ok(seen, "finalizeWait shown as a countdown");
  const sid = await page.$eval('#timers .timer[data-timer="finalizeWait"]', (el) => el.dataset.server);
  await page.click(`#cluster [data-node-id="${sid}"]`);
  assert.equal(await page.$eval("#vote-status", (el) => el.dataset.quorum), "true");
  assert.match(await page.textContent("#vote-status"), /finalizeWait/);
  noErrors(errors);
  await page.close();
});

const EXHIBITS = [
  ["current-epoch-before-sync-logged", "DurableAcknowledgement"],
  ["ack-before-durable", "DurableAcknowledgement"],
  ["stale-ack-after-trunc", "CommittedDurably"],
  ["commit-with-minority", "CommittedDurably"],
];

for (const [name, invariant] of EXHIBITS) {
  test(`museum ${name}: the monitor pauses on ${invariant} and points at servers and zxids; with the fix the run ends safely`, async () => {
    const { page, errors } = await openPage(browser, `${server.url}?museum=${name}&speed=60&lang=en`, SMALL);
    await page.waitForSelector(`#museum[data-exhibit="${name}"][data-fixed="false"]`);
    await page.waitForSelector('#museum[data-outcome="violated"]', { timeout: 30_000 });
    assert.equal(await lab(page, "violation"), invariant);
    await page.waitForFunction(() => document.querySelector("#lab").dataset.playing === "false");
    assert.equal(await page.$eval("#museum-verdict", (el) => el.dataset.invariant), invariant);
    // Paused at the violation itself: the clock stands at the violation's time.
    const at = await lab(page, "time");
    assert.match(await page.textContent("#museum-verdict"), new RegExp(`at ${at} ms`));
    assert.ok((await page.locator("#cluster .server.violating[data-node-id]").count()) >= 1, "violating servers highlighted");
    await page.click("#view-both");
    assert.ok((await page.locator("#logs td.lc.violating").count()) >= 1, "violating zxids highlighted");
    assert.ok((await page.locator("#logs th[data-log-server].violating").count()) >= 1);
    await screenshot(page, `panels-museum-${name}-1280`);
    await page.click("#museum-fix");
    await page.waitForSelector('#museum[data-fixed="true"]');
    assert.match(page.url(), new RegExp(`museum=${name}&fix=1`));
    await page.waitForSelector('#museum[data-outcome="safe"]', { timeout: 30_000 });
    assert.equal(await lab(page, "violation"), "");
    assert.equal(await lab(page, "playing"), "false", "stops at the scenario's end");
    assert.equal(await page.locator("#cluster .server.violating").count(), 0);
    noErrors(errors);
    await page.close();
  });
}

test("the lab page's museum picker opens the museum module, in Chinese too", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?paused=1`, SMALL);
  await page.click("#lang-zh");
  await page.selectOption("#museum-picker", "commit-with-minority");
  await page.waitForSelector('#museum[data-exhibit="commit-with-minority"]');
  assert.match(page.url(), /museum=commit-with-minority&fix=0&lang=zh/);
  assert.equal(await page.$eval("#museum", (el) => el.dataset.lang), "zh");
  assert.match(await page.textContent("#museum h2"), /少数派/);
  noErrors(errors);
  await page.close();
});

test("screenshots at 1280x720 and 1920x1080: logs, timers and the museum readable on a projector", async () => {
  for (const [vp, tag] of [[SMALL, "1280"], [BIG, "1920"]]) {
    const { page, errors } = await openPage(browser, `${server.url}?museum=stale-ack-after-trunc&speed=60&lang=zh`, vp);
    await page.waitForSelector('#museum[data-outcome="violated"]', { timeout: 30_000 });
    await page.click("#view-both");
    const shot = await screenshot(page, `panels-museum-zh-both-${tag}`);
    assert.ok(shot.ink > 0.01);
    for (const sel of ["#logs", "#timers", "#museum"]) {
      const min = await minFontPx(page, sel);
      assert.ok(min >= 14, `${sel}: ${min} px at ${tag}`);
    }
    await page.click("#view-logs");
    // The logs alone: every server's column fits the page (the side column makes room).
    const right = await page.$$eval("#logs th[data-log-server]", (ths) => Math.max(...ths.map((t) => t.getBoundingClientRect().right)));
    assert.ok(right <= vp.width, `last column ends at ${right} px of ${vp.width}`);
    await screenshot(page, `panels-museum-zh-logs-${tag}`);
    noErrors(errors);
    await page.close();
  }
});
