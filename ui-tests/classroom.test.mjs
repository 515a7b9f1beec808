// The lab in a classroom (issue 11): readable on a projector, messages visible when they
// matter, faults and time readable, robust and shareable links. Run after `cargo xtask build`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
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

const lab = (page, attr) => page.$eval("#lab", (el, a) => el.dataset[a], attr);
const SIZES = [
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
];

function noErrors(errors) {
  assert.deepEqual(errors, [], `console errors: ${errors.join("\n")}`);
}

/// Every text in the diagram: its rendered size in CSS px (computed font size × the SVG's scale).
async function diagramText(page) {
  return page.evaluate(() => {
    const out = [];
    for (const t of document.querySelectorAll("#cluster text")) {
      const box = t.getBoundingClientRect();
      if (box.width === 0) continue;
      const svg = t.ownerSVGElement;
      const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      out.push({ px: parseFloat(getComputedStyle(t).fontSize) * scale, text: t.textContent });
    }
    return out;
  });
}

async function fill(page) {
  return page.evaluate(() => {
    const d = document.querySelector("#diagram").getBoundingClientRect();
    const s = document.querySelector("#cluster").getBoundingClientRect();
    const box = document.querySelector("#cluster [data-node-id] rect.box").getBoundingClientRect();
    const button = document.querySelector("#play");
    const play = button ? parseFloat(getComputedStyle(button).fontSize) : 0;
    return { dw: d.width, dh: d.height, sw: s.width, sh: s.height, boxW: box.width, play };
  });
}

/// Steps (→) until `pred` holds in the page, at most `max` times; returns its value.
async function stepUntil(page, pred, arg, max = 300) {
  for (let i = 0; i < max; i++) {
    const v = await page.evaluate(pred, arg);
    if (v) return v;
    await page.keyboard.press("ArrowRight");
  }
  return null;
}

function overlapping(rects) {
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const [p, q] = [rects[i], rects[j]];
      const eps = 0.5;
      if (p.left + eps < q.right && q.left + eps < p.right && p.top + eps < q.bottom && q.top + eps < p.bottom) {
        return [p, q];
      }
    }
  }
  return null;
}

test("diagram text is at least 14 px (18 px with Large type) at 1280x720 and 1920x1080, and fills its box", async () => {
  const report = [];
  for (const vp of SIZES) {
    const seen = {};
    for (const large of [false, true]) {
      const q = `?seed=5&servers=5&t=2600${large ? "&large=1" : ""}`;
      const { page, errors } = await openPage(browser, `${server.url}${q}`, vp);
      await page.waitForSelector("#cluster [data-node-id]");
      // Step into a moment with messages (and their labels) on the wire.
      await stepUntil(page, () => document.querySelectorAll("#cluster .msg-label").length > 0);
      const texts = await diagramText(page);
      assert.ok(texts.length > 20, `texts in the diagram: ${texts.length}`);
      const min = texts.reduce((a, b) => (b.px < a.px ? b : a));
      const want = large ? 18 : 14;
      assert.ok(min.px >= want - 0.01, `${vp.width}x${vp.height} large=${large}: "${min.text}" is ${min.px.toFixed(2)} px`);
      const f = await fill(page);
      assert.ok(f.sw >= f.dw - 4 && f.sh >= f.dh - 4, `the drawing fills its box: ${JSON.stringify(f)}`);
      seen[large] = f;
      report.push(`${vp.width}x${vp.height} ${large ? "large" : "normal"}: min ${min.px.toFixed(1)} px ("${min.text}")`);
      await screenshot(page, `c1-${vp.width}x${vp.height}-${large ? "large" : "normal"}`);
      noErrors(errors);
      await page.close();
    }
    assert.ok(seen.true.boxW > seen.false.boxW, "Large type enlarges the server boxes");
    assert.ok(seen.true.play > seen.false.play, "Large type enlarges the controls");
  }
  console.log(report.join("\n"));
});

test("Large type with nine servers fits 1280x720: no page or diagram scrolling, boxes apart, text still 18 px", async () => {
  for (const vp of SIZES) {
    const { page, errors } = await openPage(browser, `${server.url}?large=1&servers=9&seed=4&t=300`, vp);
    await page.waitForSelector("#cluster [data-node-id]");
    // Let the diagram take the box the page measured.
    await page.waitForFunction(() => {
      const d = document.querySelector("#diagram");
      return d && Math.abs(document.querySelector("#cluster").getBoundingClientRect().height - d.clientHeight) < 4;
    });
    const s = await page.evaluate(() => {
      const d = document.querySelector("#diagram");
      return {
        page: [document.scrollingElement.scrollHeight, innerHeight, document.scrollingElement.scrollWidth, innerWidth],
        diagram: [d.scrollHeight, d.clientHeight, d.scrollWidth, d.clientWidth],
        frame: d.getBoundingClientRect().toJSON(),
        boxes: [...document.querySelectorAll("#cluster rect.box")].map((b) => b.getBoundingClientRect().toJSON()),
      };
    });
    const at = `${vp.width}x${vp.height}`;
    assert.ok(s.page[0] <= s.page[1], `${at}: the page scrolls (${s.page[0]} > ${s.page[1]} px)`);
    assert.ok(s.page[2] <= s.page[3], `${at}: the page scrolls sideways`);
    assert.ok(s.diagram[0] <= s.diagram[1] + 1 && s.diagram[2] <= s.diagram[3] + 1, `${at}: the diagram scrolls: ${s.diagram}`);
    assert.equal(s.boxes.length, 9);
    assert.equal(overlapping(s.boxes), null, `${at}: boxes overlap`);
    for (const b of s.boxes) {
      assert.ok(b.top >= s.frame.top && b.bottom <= s.frame.bottom && b.left >= s.frame.left && b.right <= s.frame.right, `${at}: a box outside the diagram`);
    }
    const texts = await diagramText(page);
    const min = texts.reduce((a, b) => (b.px < a.px ? b : a));
    assert.ok(min.px >= 18 - 0.01, `${at}: "${min.text}" is ${min.px.toFixed(2)} px`);
    const box = await page.$eval("#cluster [data-node-id]", (e) => e.textContent);
    assert.match(box, /logged /, "a crowded box still shows its logged zxid");
    await screenshot(page, `c1b-nine-large-${at}`);
    noErrors(errors);
    await page.close();
  }
});

test("stepping a write: messages in flight are never covered, labels never overlap, the step is marked", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?seed=5&t=3000`, SIZES[0]);
  const leader = await lab(page, "leader");
  const follower = await page.$eval('#cluster [data-state="FOLLOWING"]', (e) => e.dataset.nodeId);
  assert.ok(leader && follower);
  // A write through a follower: REQUEST to the leader, PROPOSAL, ACK, COMMIT.
  await page.selectOption("#write-server", follower);
  await page.fill("#write-path", "/class");
  await page.click("#send-write");
  const visible = new Set();
  let flashes = 0;
  for (let i = 0; i < 120; i++) {
    const s = await page.evaluate(() => {
      const out = { covered: [], visible: [], texts: [], flash: 0 };
      for (const el of document.querySelectorAll("#cluster g.msg:not(.dropped)")) {
        const r = el.querySelector("circle").getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        const msg = hit?.closest("g.msg");
        if (!msg) out.covered.push(`${el.dataset.msgType} under ${hit?.tagName}.${hit?.getAttribute("class")}`);
        else if (msg === el) out.visible.push(el.dataset.msgType);
      }
      for (const t of document.querySelectorAll("#cluster .labels text")) out.texts.push(t.getBoundingClientRect().toJSON());
      out.flash = document.querySelectorAll("#cluster .flash[data-flash-type]").length;
      return out;
    });
    assert.deepEqual(s.covered, [], `step ${i}: messages covered`);
    const o = overlapping(s.texts);
    assert.equal(o, null, `step ${i}: two labels overlap ${JSON.stringify(o)}`);
    s.visible.forEach((t) => visible.add(t));
    flashes += s.flash;
    await page.keyboard.press("ArrowRight");
  }
  for (const t of ["REQUEST", "PROPOSAL", "ACK", "COMMIT"]) assert.ok(visible.has(t), `${t} seen in flight: ${[...visible]}`);
  assert.ok(flashes > 0, "a delivered message flashed at its receiver");
  const shot = await screenshot(page, "c2-write-step");
  assert.ok(shot.ink > 0.01);
  noErrors(errors);
  await page.close();
});

test("an election stepped from the start pulses the server whose state changed; boxes name both zxids", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?seed=2&t=0`, SIZES[0]);
  const pulsed = await stepUntil(page, () => document.querySelector("#cluster .server.pulse")?.dataset.nodeId);
  assert.ok(pulsed, "a server pulsed after a step that changed it");
  const box = await page.$eval("#cluster [data-node-id]", (e) => ({ text: e.textContent, applied: e.dataset.appliedZxid, logged: e.dataset.loggedZxid }));
  assert.match(box.text, /applied /);
  assert.match(box.text, /logged /);
  assert.ok(box.logged !== undefined && box.applied !== undefined);
  noErrors(errors);
  await page.close();
});

test("nine servers: co-located messages are counted, labels do not overlap", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?servers=9&seed=4&t=100`, SIZES[0]);
  const stack = await stepUntil(page, () => document.querySelector("#cluster g.msg.stack")?.dataset.msgCount);
  assert.ok(Number(stack) > 1, "some messages share a spot");
  const counted = await page.$eval("#cluster g.msg.stack", (g) => document.querySelector(`#cluster .msg-label[data-for="${g.dataset.msgId}"] text`)?.textContent ?? "(no room for a label)");
  assert.match(counted, /×\d+|\+|msgs|no room/);
  const s = await page.evaluate(() => ({
    groups: Number(document.querySelector("#cluster").dataset.groups),
    inFlight: Number(document.querySelector("#cluster").dataset.inFlight),
    texts: [...document.querySelectorAll("#cluster .labels text")].map((t) => t.getBoundingClientRect().toJSON()),
    boxes: [...document.querySelectorAll("#cluster rect.box")].map((t) => t.getBoundingClientRect().toJSON()),
  }));
  assert.ok(s.inFlight > 0);
  assert.ok(s.groups <= s.inFlight);
  assert.equal(overlapping(s.texts), null, "labels overlap");
  assert.equal(overlapping(s.boxes), null, "boxes overlap");
  await screenshot(page, "c3-nine-servers-1280x720");
  noErrors(errors);
  await page.close();
});

test("a one-way cut and a slow link are drawn and labelled with their direction; the timeline marks faults and zooms", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?seed=5&t=3000`, SIZES[0]);
  await page.click('#cluster [data-link="1-2"] line.hit', { force: true });
  await page.click('#inspector button[data-action="cut-ab"]');
  const dir = await page.$$eval("#cluster line.dir.cut", (ls) => ls.map((l) => [l.dataset.dir, l.getAttribute("marker-end")]));
  assert.deepEqual(dir, [["1-2", "url(#arrow-cut)"]], "only S1→S2 is drawn cut, with an arrowhead");
  const label = await page.$eval('#cluster .link-label[data-for="1-2"] text', (t) => t.textContent);
  assert.match(label, /S1→S2.*cut/);
  await page.fill('#inspector input[type=number] >> nth=0', "200");
  await page.fill('#inspector input[type=number] >> nth=1', "10");
  await page.click('#inspector button[data-action="set-link"]');
  const labels = await page.$$eval("#cluster .link-label text", (ts) => ts.map((t) => t.textContent));
  assert.ok(labels.some((l) => /S2→S1 \+200 ms · drop 10%/.test(l)), labels.join(" | "));
  // Kill a server: the timeline marks it.
  await page.click('#cluster [data-node-id="3"]');
  await page.click('#inspector button[data-action="kill"]');
  const marks = await page.$$eval("#bands .marker", (ms) => ms.map((m) => m.dataset.marker));
  assert.ok(marks.includes("cut") && marks.includes("kill"), marks.join(","));
  const span = Number(await page.$eval("#bands", (s) => s.dataset.span));
  await page.click("#zoom-in");
  const zoomed = Number(await page.$eval("#bands", (s) => s.dataset.span));
  assert.ok(Math.abs(zoomed - span / 2) < 2, `zoom in halves the window (${span} → ${zoomed})`);
  await page.click("#zoom-fit");
  assert.equal(Number(await page.$eval("#bands", (s) => s.dataset.span)), span);
  await screenshot(page, "c4-one-way-cut-1280x720");
  noErrors(errors);
  await page.close();
});

test("?t=10000000 is clamped with a message and the page works", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?t=10000000`, SIZES[0]);
  const msg = await page.$eval("#error", (e) => e.textContent);
  assert.match(msg, /t=10000000/);
  const time = Number(await lab(page, "time"));
  assert.ok(time > 0 && time < 10000000, `clamped time ${time}`);
  assert.equal(await page.locator("#cluster [data-node-id]").count(), 3);
  await page.keyboard.press("ArrowRight");
  assert.ok(Number(await lab(page, "time")) >= time);
  noErrors(errors);
  await page.close();
});

test("a panic inside the wasm shows the error panel with the link to the run", async () => {
  const page = await browser.newPage({ viewport: SIZES[0] });
  await page.goto(`${server.url}?seed=3&panic=test`);
  await page.waitForSelector("#crash");
  const text = await page.$eval("#crash", (e) => e.textContent);
  assert.match(text, /deliberate panic/);
  const link = await page.$eval("#crash-link", (e) => e.value);
  assert.ok(link.startsWith(server.url) && !link.includes("panic=test"), link);
  await screenshot(page, "c5-panic-panel");
  await page.close();
});

test("a share link restores branches, the one shown, selection, speed and the exact instant", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?seed=42&servers=5&t=5000&speed=3`);
  const leader = await lab(page, "leader");
  await page.click(`#cluster [data-node-id="${leader}"]`);
  await page.click('#inspector button[data-action="kill"]');
  await page.click("#step");
  // Back in time, another fault: a second branch.
  await page.$eval("#scrubber", (el) => {
    el.value = "3000";
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await page.click('#cluster [data-node-id="2"]');
  await page.click('#inspector button[data-action="isolate"]');
  for (let i = 0; i < 5; i++) await page.keyboard.press("ArrowRight");
  await page.click('#cluster [data-node-id="4"]');
  const before = await page.evaluate(() => ({
    ...document.querySelector("#lab").dataset,
    branches: [...document.querySelectorAll("#branch option")].map((o) => o.textContent),
    clock: document.querySelector("#clock").textContent,
    speed: document.querySelector(".speed output").textContent,
    selected: document.querySelector("#inspector").dataset.nodeId,
  }));
  assert.equal(before.branches.length, 2);
  await page.click("#share");
  const link = await page.$eval("#share-url", (el) => el.value);
  const other = await openPage(browser, link);
  await other.page.waitForFunction(() => document.querySelector("#inspector")?.dataset.nodeId === "4");
  const after = await other.page.evaluate(() => ({
    ...document.querySelector("#lab").dataset,
    branches: [...document.querySelectorAll("#branch option")].map((o) => o.textContent),
    clock: document.querySelector("#clock").textContent,
    speed: document.querySelector(".speed output").textContent,
    selected: document.querySelector("#inspector").dataset.nodeId,
  }));
  for (const k of ["hash", "steps", "time", "branch", "viewMs"]) assert.equal(after[k], before[k], k);
  assert.deepEqual(after.branches, before.branches);
  assert.equal(after.clock, before.clock);
  assert.equal(after.speed, before.speed);
  assert.equal(after.selected, "4");
  assert.equal(after.playing, "false");
  // The other branch is there too, with the kill.
  await other.page.selectOption("#branch", "0");
  assert.equal(await other.page.locator('#cluster [data-state="DOWN"]').count(), 1);
  noErrors(errors);
  noErrors(other.errors);
  await page.close();
  await other.page.close();
});

test("Import restores the exported moment, paused", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?seed=9&servers=5&t=3000`);
  // Each → is one event; wait for it on screen before the next, so the moment read below is
  // the one the export writes.
  for (let i = 0; i < 7; i++) {
    const steps = await lab(page, "steps");
    await page.keyboard.press("ArrowRight");
    await page.waitForFunction((s) => document.querySelector("#lab").dataset.steps !== s, steps);
  }
  assert.equal(await lab(page, "playing"), "false");
  const here = await page.evaluate(() => ({ ...document.querySelector("#lab").dataset }));
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  const file = await download.path();
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.equal(json.at.steps, Number(here.steps));
  const other = await openPage(browser, `${server.url}?speed=20`);
  await other.page.setInputFiles("#import", file);
  await other.page.waitForFunction((s) => document.querySelector("#lab").dataset.steps === s, here.steps);
  const there = await other.page.evaluate(() => ({ ...document.querySelector("#lab").dataset }));
  assert.equal(there.playing, "false");
  assert.equal(there.hash, here.hash);
  assert.equal(there.viewMs, here.viewMs);
  await other.page.waitForTimeout(300);
  assert.equal(await lab(other.page, "steps"), here.steps, "stays paused");
  noErrors(errors);
  noErrors(other.errors);
  await page.close();
  await other.page.close();
});

test("present mode: the diagram full screen, a status bar, keyboard only", async () => {
  for (const vp of SIZES) {
    const { page, errors } = await openPage(browser, `${server.url}?seed=5&t=3000`, vp);
    await page.keyboard.press("p");
    await page.waitForSelector("#present-bar");
    assert.equal(await lab(page, "present"), "true");
    assert.equal(await page.locator(".toolbar").count(), 0);
    assert.equal(await page.locator("#inspector").count(), 0);
    const f = await fill(page);
    assert.ok(f.sw >= vp.width * 0.95, `diagram width ${f.sw} of ${vp.width}`);
    const texts = await diagramText(page);
    assert.ok(texts.every((t) => t.px >= 14), "text stays readable");
    const steps = Number(await lab(page, "steps"));
    await page.keyboard.press("ArrowRight");
    assert.equal(Number(await lab(page, "steps")), steps + 1);
    await page.keyboard.press("ArrowLeft");
    assert.equal(Number(await lab(page, "steps")), steps);
    await page.keyboard.press(" ");
    assert.equal(await lab(page, "playing"), "true");
    await page.keyboard.press(" ");
    assert.equal(await lab(page, "playing"), "false");
    await screenshot(page, `c6-present-${vp.width}x${vp.height}`);
    await page.keyboard.press("Escape");
    assert.equal(await lab(page, "present"), "false");
    await page.waitForSelector(".toolbar");
    noErrors(errors);
    await page.close();
  }
  const { page, errors } = await openPage(browser, `${server.url}?seed=5&t=3000&present=1`, SIZES[0]);
  assert.equal(await lab(page, "present"), "true");
  await page.click("#present-exit");
  assert.equal(await lab(page, "present"), "false");
  noErrors(errors);
  await page.close();
});
