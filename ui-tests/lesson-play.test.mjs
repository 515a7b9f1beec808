// A lesson step that animates and points (issue 11, item 3): Next plays the step's events one
// by one, the step's highlights mark servers, messages and words of the narration, a click on
// the message list shows that moment, the toolbar shows the lesson's own configuration, and a
// question is asked before the picture gives its answer away.
// Run with `node --test` after `cargo xtask build`.
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

const counter = (page) => page.$eval("#lesson-counter", (el) => ({ ...el.dataset }));
const boxes = (page) =>
  page.$$eval("#cluster [data-node-id]", (els) =>
    els.map((e) => ({ id: e.dataset.nodeId, state: e.dataset.state, text: e.textContent, hl: e.dataset.highlight })),
  );
const stepDone = (page, n) =>
  page.waitForFunction(
    (n) => {
      const c = document.querySelector("#lesson-counter");
      return c.dataset.step === String(n) && c.dataset.playing === "false";
    },
    n,
    { timeout: 60_000 },
  );

function noErrors(errors) {
  assert.deepEqual(errors, [], `console errors: ${errors.join("\n")}`);
}

test("Next animates: the event shown advances over many frames, then the checkpoint appears", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?lesson=01&step=0&lang=en`);
  await page.waitForSelector("#lesson-counter");
  await page.selectOption("#lesson-speed", "20");
  await page.click("#lesson-next");
  // Sample the event index once per animation frame until the step ends.
  const seen = await page.evaluate(
    () =>
      new Promise((done) => {
        const events = [];
        const t0 = performance.now();
        const frame = () => {
          const c = document.querySelector("#lesson-counter");
          if (c.dataset.playing === "true") events.push(Number(c.dataset.event));
          if (c.dataset.playing === "false" && events.length > 0) return done(events);
          if (performance.now() - t0 > 30_000) return done(events);
          requestAnimationFrame(frame);
        };
        frame();
      }),
  );
  const distinct = [...new Set(seen)];
  assert.ok(distinct.length >= 3, `the event index took ${distinct.length} values: ${distinct}`);
  assert.ok(seen.length >= 6, `the animation lasted ${seen.length} frames`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `the event index never goes back: ${seen}`);
  await stepDone(page, 1);
  assert.equal(await page.$eval("#checkpoint", (el) => el.dataset.passed), "true");
  // Skip to end: the next step jumps to its end at once.
  await page.click("#lesson-next");
  await page.waitForSelector("#lesson-skip");
  await page.click("#lesson-skip");
  await stepDone(page, 2);
  assert.equal(await page.$eval("#checkpoint", (el) => el.dataset.passed), "true");
  noErrors(errors);
  await page.close();
});

test("lesson 06: the TRUNC is drawn during its step, and the step's highlights are marked", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?lesson=06&step=3&lang=en`);
  await page.waitForSelector("#lesson-counter");
  await page.selectOption("#lesson-speed", "3");
  await page.click("#lesson-next");
  const trunc = await page.waitForSelector('#cluster [data-msg-type="TRUNC"]', { timeout: 60_000 });
  await page.click("#lesson-pause");
  assert.equal(await trunc.getAttribute("data-highlight"), "true", "TRUNC is a highlighted message type");
  const during = await counter(page);
  assert.equal(during.playing, "true", "the TRUNC is on the wire while the step plays");
  const s3 = (await boxes(page)).find((b) => b.id === "3");
  assert.equal(s3.hl, "true", "server 3 is highlighted");
  assert.ok((await boxes(page)).filter((b) => b.hl === "true").length === 1, "only server 3 is highlighted");
  const marked = await page.$$eval("#narration mark.hl", (ms) => ms.map((m) => m.textContent));
  assert.ok(marked.includes("TRUNC") && marked.includes("1:4") && marked.includes("Server 3"), `marked: ${marked}`);
  await screenshot(page, "lesson-06-trunc-1280").then((s) => assert.ok(s.ink > 0.01));
  await page.click("#lesson-skip");
  await stepDone(page, 4);
  assert.equal(await page.$eval("#checkpoint", (el) => el.dataset.passed), "true");
  noErrors(errors);
  await page.close();
});

test("a click on the step's message list shows that moment: the time cursor moves to the message's send", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?lesson=01&step=3&lang=en`);
  await page.waitForSelector("#flow button.fl");
  const entries = await page.$$eval("#flow button.fl", (bs) => bs.map((b) => ({ record: b.dataset.record, text: b.textContent })));
  assert.ok(entries.length >= 3, `${entries.length} clickable messages`);
  const end = await page.$eval("#clock", (el) => el.textContent);
  const pick = entries[1];
  const sentMs = Number(pick.text.trim().split(" ")[0]);
  await page.click(`#flow button.fl[data-record="${pick.record}"]`);
  await page.waitForFunction(() => document.querySelector("#lesson-counter").dataset.playing === "true");
  const clock = await page.$eval("#clock", (el) => el.textContent);
  assert.match(clock, new RegExp(`t = ${sentMs} ms`), `clock ${clock} (end of the step: ${end})`);
  assert.notEqual(clock, end);
  assert.equal(await page.$eval(`#flow button.fl[data-record="${pick.record}"]`, (b) => b.classList.contains("current")), true);
  // The picture is that moment's: the message just sent is on the wire.
  const kind = pick.text.trim().split(/\s+/)[5];
  assert.ok((await page.$$(`#cluster [data-msg-type="${kind}"]`)).length >= 1, `a ${kind} on the wire`);
  // The timeline's cursor sits before its end.
  const cursorX = await page.$eval("#bands .cursor", (l) => Number(l.getAttribute("x1")));
  assert.ok(cursorX > 0);
  await page.click("#lesson-skip");
  await stepDone(page, 3);
  assert.equal(await page.$eval("#clock", (el) => el.textContent), end);
  noErrors(errors);
  await page.close();
});

test("lesson 01: the boxes do not print the answer to the question asked, a server never started reads so, the toolbar shows the lesson's seed", async () => {
  // Before step 2: which server will server 1 vote for (2)?
  const { page, errors } = await openPage(browser, `${server.url}?lesson=01&step=1&lang=en`);
  await page.waitForSelector("#predict");
  assert.equal(await page.$eval("#predict", (el) => el.dataset.step), "1");
  let b = await boxes(page);
  assert.ok(!b.some((x) => /vote \(2,/.test(x.text)), `a box prints the vote asked for: ${b.map((x) => x.text)}`);
  const s3 = b.find((x) => x.id === "3");
  assert.equal(s3.state, "DOWN");
  assert.match(s3.text, /not started/);
  assert.doesNotMatch(s3.text, /crashed/);
  // The lesson's configuration, not the lab's form.
  assert.equal(await page.$eval("#lesson-config", (el) => el.dataset.seed), "11");
  assert.equal(await page.$eval("#lesson-config", (el) => el.dataset.servers), "3");
  assert.equal(await page.$$("#seed").then((x) => x.length), 0, "no lab seed field in a lesson");
  await page.close();

  // Before step 3: which state will server 1 be in (FOLLOWING)? No box reads FOLLOWING yet.
  const two = await openPage(browser, `${server.url}?lesson=01&step=2&lang=en`);
  await two.page.waitForSelector("#predict");
  b = await boxes(two.page);
  assert.ok(!b.some((x) => x.state === "FOLLOWING"), `states ${b.map((x) => x.state)}`);
  // Answering plays the step; the verdict comes once the animation is over.
  await two.page.selectOption("#lesson-speed", "60");
  await two.page.click('#predict button[data-choice="FOLLOWING"]');
  await stepDone(two.page, 3);
  assert.equal(await two.page.$eval("#answer-result", (el) => el.dataset.correct), "true");
  noErrors(errors);
  noErrors(two.errors);
  await two.page.close();
});

test("screenshots of a lesson step at 1280×720 and 1920×1080, English and Chinese", async () => {
  for (const [w, h] of [
    [1280, 720],
    [1920, 1080],
  ]) {
    for (const lang of ["en", "zh"]) {
      const { page, errors } = await openPage(browser, `${server.url}?lesson=06&step=3&lang=${lang}`, { width: w, height: h });
      await page.waitForSelector("#lesson-counter");
      await page.selectOption("#lesson-speed", "3");
      await page.click("#lesson-next");
      await page.waitForSelector('#cluster [data-msg-type="TRUNC"]', { timeout: 60_000 });
      await page.click("#lesson-pause");
      const s = await screenshot(page, `lesson-06-step-4-${lang}-${w}x${h}`);
      assert.ok(s.ink > 0.01, `${s.file} looks blank`);
      noErrors(errors);
      await page.close();
    }
  }
});
