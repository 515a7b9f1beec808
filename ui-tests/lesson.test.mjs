// Lessons in a real browser: run with `node --test` after `cargo xtask build`.
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

// The wasm modules this document loaded: the lab page `zablab-ui`, a lesson `zablab-lessons`.
const wasmLoaded = (page) =>
  page.evaluate(() =>
    performance.getEntriesByType("resource").map((e) => e.name.split("/").pop()).filter((n) => n.endsWith(".wasm")),
  );
const counter = (page) => page.$eval("#lesson-counter", (el) => Number(el.dataset.step));
const states = (page) =>
  page.$$eval("#cluster [data-node-id]", (els) => Object.fromEntries(els.map((e) => [e.dataset.nodeId, e.dataset.state])));
const leading = (page) => page.$$eval('#cluster [data-state="LEADING"]', (els) => els.map((e) => e.dataset.nodeId));

function noErrors(errors) {
  assert.deepEqual(errors, [], `console errors: ${errors.join("\n")}`);
}

async function shot(page, name) {
  const s = await screenshot(page, name);
  assert.ok(s.ink > 0.01, `screenshot ${name} looks blank (ink ${s.ink})`);
}

test("lesson 1 plays to the end with every checkpoint passed; Back rewinds; zh narration", async () => {
  const { page, errors } = await openPage(browser, server.url);
  await page.evaluate(() => localStorage.removeItem("zablab.lang"));
  await page.reload();
  await page.waitForSelector("#lesson-picker");
  const names = await page.$$eval("#lesson-picker option", (os) => os.map((o) => o.value).filter(Boolean));
  assert.equal(names.length, 20, "every lesson file is in the picker");
  const first = names.find((n) => n.startsWith("01-"));
  assert.ok(first, "lesson 01 in the picker");
  assert.deepEqual(await wasmLoaded(page), ["zablab-ui_bg.wasm"], "the lab page does not load the lessons");
  await page.selectOption("#lesson-picker", first);
  await page.waitForSelector("#lesson-counter");
  assert.deepEqual(await wasmLoaded(page), ["zablab-lessons_bg.wasm"], "a lesson loads the lessons module");
  assert.equal(await counter(page), 0);
  const total = await page.$eval("#lesson-counter", (el) => Number(el.dataset.steps));
  assert.ok(total >= 3, `lesson 1 has ${total} steps`);
  assert.match(page.url(), new RegExp(`lesson=${first}&step=0&lang=en`));

  const seen = [];
  // Next animates the step; the fastest speed keeps this test short.
  await page.selectOption("#lesson-speed", "60");
  for (let n = 1; n <= total; n++) {
    await page.click("#lesson-next");
    await page.waitForFunction(
      (n) => {
        const c = document.querySelector("#lesson-counter");
        return c.dataset.step === String(n) && c.dataset.playing === "false";
      },
      n,
      { timeout: 60_000 },
    );
    assert.equal(await page.$eval("#checkpoint", (el) => el.dataset.passed), "true", `step ${n} checkpoint`);
    assert.match(await page.$eval("#checkpoint", (el) => el.textContent), /✓/);
    assert.ok((await page.$$("#flow .fl")).length > 0, `step ${n} shows its messages`);
    seen.push({ narration: await page.$eval("#narration", (el) => el.textContent), states: await states(page) });
    if (n === 1) await shot(page, "lesson-01-step-1");
  }
  assert.equal(await page.$eval("#lesson-next", (el) => el.disabled), true, "Next is disabled at the end");
  // The final state: server 2 leads, 1 and 3 follow it.
  assert.deepEqual(await leading(page), ["2"]);
  assert.deepEqual(await states(page), { 1: "FOLLOWING", 2: "LEADING", 3: "FOLLOWING" });
  assert.equal(await page.$eval("#lab", (el) => el.dataset.leader), "2");
  await page.waitForSelector('#exercises [data-exercise="make-3-leader"]');
  await shot(page, "lesson-01-end");

  // A question is asked before its step: played without a prediction, the last step's
  // question is answered (the picture shows it now), not asked.
  assert.equal(await page.$$("#answer").then((x) => x.length), 0, "no answer box after the step");
  assert.match(await page.$eval("#answer-revealed", (el) => el.textContent), /FOLLOWING/);

  // Back really rewinds: the counter goes down and the cluster is as it was at that step.
  await page.click("#lesson-back");
  await page.waitForFunction((n) => document.querySelector("#lesson-counter").dataset.step === String(n), total - 1);
  assert.deepEqual(await states(page), seen[total - 2].states);
  assert.equal((await states(page))["3"], "DOWN", "server 3 is not started before the last step");
  assert.equal(await page.$eval("#narration", (el) => el.textContent), seen[total - 2].narration);
  assert.equal(await page.$eval("#lesson-slot", (el) => el.dataset.lesson), first);

  // zh: narration and labels in Chinese, remembered across visits.
  await page.click("#lang-zh");
  await page.waitForFunction(() => document.querySelector("#lesson-slot").dataset.lang === "zh");
  const zh = await page.$eval("#narration", (el) => el.textContent);
  assert.match(zh, /[\u4e00-\u9fff]/, "Chinese narration");
  assert.match(await page.$eval("#lesson-next", (el) => el.textContent), /下一步/);
  assert.match(await page.$eval("#checkpoint", (el) => el.textContent), /检查点通过/);
  await shot(page, "lesson-01-zh-back");
  assert.match(page.url(), /lang=zh/);
  await page.goto(server.url);
  await page.waitForSelector("#lesson-picker");
  assert.equal(await page.$eval("#lesson-slot", (el) => el.dataset.lang), "zh", "the language is remembered");
  assert.match(await page.$eval("#lesson-picker", (el) => el.textContent), /启动时的选举/);
  noErrors(errors);
  await page.close();
});

test("a lesson URL opens a lesson at a step in a language", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?lesson=01&step=3&lang=zh`);
  await page.waitForSelector("#lesson-counter");
  assert.equal(await counter(page), 3);
  assert.equal(await page.$eval("#lesson-slot", (el) => el.dataset.lang), "zh");
  assert.equal(await page.$eval("#checkpoint", (el) => el.dataset.passed), "true");
  assert.deepEqual(await leading(page), ["2"]);
  assert.equal((await states(page))["3"], "DOWN");
  const a = await page.$eval("#lab", (el) => el.dataset.hash);
  // The same link gives the same run.
  const again = await openPage(browser, `${server.url}?lesson=01&step=3&lang=en`);
  await again.page.waitForSelector("#lesson-counter");
  assert.equal(await again.page.$eval("#lab", (el) => el.dataset.hash), a);
  assert.doesNotMatch(await again.page.$eval("#narration", (el) => el.textContent), /[\u4e00-\u9fff]/);
  noErrors(errors);
  noErrors(again.errors);
  await again.page.close();
  // A bad lesson name shows a message, not a crash.
  const bad = await openPage(browser, `${server.url}?lesson=99`);
  await bad.page.waitForSelector("#error");
  assert.equal(await bad.page.locator("#cluster [data-node-id]").count(), 3);
  noErrors(bad.errors);
  await bad.page.close();
  await page.close();
});

test("a lesson file is fetched when the lesson opens; a failed fetch shows a clear message", async () => {
  // The lessons module carries no lesson file: it fetches lessons/NAME.json (copied by xtask).
  const ok = await openPage(browser, `${server.url}?lesson=02&step=0&lang=en`);
  await ok.page.waitForSelector("#lesson-counter");
  const fetched = await ok.page.evaluate(() =>
    performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((n) => n.endsWith(".json")),
  );
  assert.deepEqual(fetched, ["/lessons/02-votes-and-logicclock.json"]);
  noErrors(ok.errors);
  await ok.page.close();
  // Offline (the request fails) and a missing file (404): the page says which file and why.
  for (const [what, answer] of [
    ["offline", (route) => route.abort("internetdisconnected")],
    ["404", (route) => route.fulfill({ status: 404, body: "not found" })],
  ]) {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.route("**/lessons/*.json", answer);
    await page.goto(`${server.url}?lesson=01&step=2&lang=en`);
    await page.waitForSelector("#error");
    const text = await page.$eval("#error", (el) => el.textContent);
    assert.match(text, /could not load lesson 01-startup-election \(lessons\/01-startup-election\.json\)/, what);
    assert.match(text, /reload the page/, what);
    if (what === "404") assert.match(text, /HTTP 404/);
    assert.equal(await page.locator("#lesson-counter").count(), 0, `${what}: no lesson is shown`);
    assert.equal(await page.locator("#cluster [data-node-id]").count(), 3, `${what}: the free lab is still there`);
    await page.close();
  }
});

test("an exercise: a wrong try shows the hint, the right one passes", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?lesson=01&step=4&lang=en`);
  await page.click('#exercises [data-exercise="make-3-leader"] button');
  await page.waitForSelector('#exercise[data-exercise="make-3-leader"]');
  await page.click("#play"); // pause: the test lets time pass with "Run 1 s"
  await page.waitForFunction(() => document.querySelector("#lab").dataset.playing === "false");
  assert.deepEqual(await states(page), { 1: "DOWN", 2: "DOWN", 3: "DOWN" });
  const start = async (sid) => {
    await page.click(`#cluster [data-node-id="${sid}"]`);
    await page.click('#inspector button[data-action="start"]');
  };
  // Wrong: start 1 and 2 first, as in the lesson: server 2 wins.
  await start(1);
  await start(2);
  for (let i = 0; i < 3; i++) await page.click("#exercise-run");
  await page.click("#exercise-check");
  assert.equal(await page.$eval("#exercise-result", (el) => el.dataset.passed), "false");
  assert.match(await page.$eval("#exercise-hint", (el) => el.textContent), /larger id wins/);
  await shot(page, "lesson-01-exercise-hint");

  // Right: 3 and 1 form the first majority, 2 joins later.
  await page.click("#exercise-restart");
  await page.click("#play");
  await page.waitForFunction(() => document.querySelector("#lab").dataset.playing === "false");
  assert.deepEqual(await states(page), { 1: "DOWN", 2: "DOWN", 3: "DOWN" });
  await start(3);
  await start(1);
  for (let i = 0; i < 3; i++) await page.click("#exercise-run");
  await start(2);
  for (let i = 0; i < 3; i++) await page.click("#exercise-run");
  await page.click("#exercise-check");
  assert.equal(await page.$eval("#exercise-result", (el) => el.dataset.passed), "true");
  assert.deepEqual(await leading(page), ["3"]);
  await shot(page, "lesson-01-exercise-passed");
  await page.click("#exercise-leave");
  await page.waitForSelector("#lesson-counter");
  assert.equal(await counter(page), 4);
  noErrors(errors);
  await page.close();
});
