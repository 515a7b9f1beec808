// The browser lab in a real browser: run with `node --test` after `cargo xtask build`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { DIST, serveDist, launch, openPage, screenshot, moduleSizes } from "./harness.mjs";

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

/// gzip -9 of wasm + JS per module, in KB (1,024 bytes): ceilings, so that growth is seen. The
/// issue's goals are lower, the lab page 300 KB and the lessons 350 KB (measured 2026-12-02:
/// 334.9 and 473.7; both grew 4-5 KB with ZooKeeper's reconfig transaction on the data tree and
/// its session-layer path, which every module that runs the data tree carries); see
/// BENCHMARKS.md. A size check, not a timing one.
const BUDGET_KB = { "zablab-ui": 336, "zablab-lessons": 475, "zablab-bench": 428, "zablab-museum": 374, "zablab-live": 176 };

test("each wasm module stays within its gzip budget", () => {
  const sizes = moduleSizes(DIST);
  const report = [];
  for (const [name, budget] of Object.entries(BUDGET_KB)) {
    assert.ok(sizes[name], `dist/ has no ${name}.js + ${name}_bg.wasm`);
    const kb = sizes[name].gz / 1024;
    report.push(`${name}: ${kb.toFixed(1)} KB gzip (budget ${budget} KB)`);
    assert.ok(kb <= budget, `${name} is ${kb.toFixed(1)} KB gzip, over its ${budget} KB budget`);
  }
  console.log(report.join("\n"));
});

const lab = (page, attr) => page.$eval("#lab", (el, a) => el.dataset[a], attr);
const stateOf = (page, sid) => page.$eval(`#cluster [data-node-id="${sid}"]`, (el) => el.dataset.state);
const zxidOf = (page, sid) => page.$eval(`#cluster [data-node-id="${sid}"]`, (el) => el.dataset.zxid);

async function waitStable(page, timeout = 30_000) {
  await page.waitForFunction(
    () => {
      const lab = document.querySelector("#lab");
      const leading = document.querySelectorAll('#cluster [data-node-id][data-state="LEADING"]').length;
      return lab?.dataset.stable === "true" && leading === 1;
    },
    null,
    { timeout },
  );
  return lab(page, "leader");
}

async function followers(page) {
  return page.$$eval('#cluster [data-node-id][data-state="FOLLOWING"]', (els) => els.map((e) => e.dataset.nodeId));
}

function noErrors(errors) {
  assert.deepEqual(errors, [], `console errors: ${errors.join("\n")}`);
}

test("the page autoplays a 3-server run and exactly one server reaches LEADING", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?speed=20`);
  assert.equal(await page.locator("#cluster [data-node-id]").count(), 3);
  const leader = await waitStable(page);
  assert.ok(leader, "a leader id");
  assert.equal(await page.locator('#cluster [data-state="LEADING"]').count(), 1);
  assert.equal(await page.locator('#cluster [data-state="FOLLOWING"]').count(), 2);
  assert.equal(await stateOf(page, leader), "LEADING");
  const shot = await screenshot(page, "01-three-servers-elected");
  assert.ok(shot.ink > 0.01, `screenshot looks blank (ink ${shot.ink})`);
  noErrors(errors);
  await page.close();
});

test("killing the leader yields a new leader", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?speed=20&seed=3`);
  const old = await waitStable(page);
  await page.click(`#cluster [data-node-id="${old}"]`);
  await page.click('#inspector button[data-action="kill"]');
  assert.equal(await stateOf(page, old), "DOWN");
  await page.waitForFunction(
    (old) => {
      const d = document.querySelector("#lab").dataset;
      return d.stable === "true" && d.leader !== "" && d.leader !== old;
    },
    old,
    { timeout: 30_000 },
  );
  const leader = await lab(page, "leader");
  assert.notEqual(leader, old);
  assert.equal(await page.locator('#cluster [data-state="LEADING"]').count(), 1);
  const shot = await screenshot(page, "02-new-leader-after-kill");
  assert.ok(shot.ink > 0.01);
  noErrors(errors);
  await page.close();
});

test("a follower cut off while a write commits resynchronises after healing", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?speed=20&seed=5`);
  const leader = await waitStable(page);
  const [f] = await followers(page);
  await page.click(`#cluster [data-node-id="${f}"]`);
  await page.click('#inspector button[data-action="isolate"]');
  // A write through the leader commits with the other follower while f is cut off.
  await page.selectOption("#write-server", leader);
  await page.fill("#write-path", "/a");
  await page.fill("#write-data", "while-cut");
  await page.click("#send-write");
  await page.waitForFunction((f) => {
    const el = document.querySelector(`#cluster [data-node-id="${f}"]`);
    return el.dataset.state === "LOOKING";
  }, f, { timeout: 30_000 });
  await page.waitForFunction((leader) => document.querySelector(`#cluster [data-node-id="${leader}"]`).dataset.zxid.endsWith(":2"), leader, { timeout: 30_000 });
  assert.notEqual(await zxidOf(page, f), await zxidOf(page, leader), "the cut follower missed the write");
  await page.click('#inspector button[data-action="heal-all"]');
  await page.waitForFunction(
    ([f, leader]) => {
      const el = (s) => document.querySelector(`#cluster [data-node-id="${s}"]`).dataset;
      return el(f).state === "FOLLOWING" && el(f).phase === "BROADCAST" && el(f).zxid === el(leader).zxid;
    },
    [f, leader],
    { timeout: 30_000 },
  );
  // The follower's tree now has /a, and the leader explains how it synced it.
  await page.click(`#cluster [data-node-id="${f}"]`);
  await page.waitForSelector('#inspector [data-znode="/a"]');
  const nowLeader = await lab(page, "leader");
  await page.click(`#cluster [data-node-id="${nowLeader}"]`);
  const mode = await page.$eval(`#inspector [data-learner="${f}"]`, (el) => el.dataset.sync);
  assert.match(mode, /^(DIFF|TRUNC|SNAP)$/);
  const shot = await screenshot(page, "03-resynchronised-follower");
  assert.ok(shot.ink > 0.01);
  noErrors(errors);
  await page.close();
});

test("clicking a message opens its fields", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?speed=0.5`);
  await page.waitForSelector("#cluster g.msg:not(.dropped)");
  await page.keyboard.press(" "); // pause
  await page.waitForFunction(() => document.querySelector("#lab").dataset.playing === "false");
  // A message whose dot is not under a server box or another message (step until one is).
  let found = null;
  for (let i = 0; i < 50 && !found; i++) {
    found = await page.evaluate(() => {
      for (const el of document.querySelectorAll("#cluster g.msg:not(.dropped)")) {
        const r = el.querySelector("circle").getBoundingClientRect();
        const [x, y] = [r.left + r.width / 2, r.top + r.height / 2];
        if (document.elementFromPoint(x, y)?.closest("g.msg") === el) return { x, y, type: el.dataset.msgType };
      }
      return null;
    });
    if (!found) await page.keyboard.press("ArrowRight");
  }
  assert.ok(found, "a clickable message");
  const { x, y, type } = found;
  await page.mouse.click(x, y);
  await page.waitForSelector("#msg-inspector");
  const fields = await page.$$eval("#inspector table.fields th", (ths) => ths.map((t) => t.textContent));
  assert.ok(fields.includes("type") && fields.includes("from") && fields.includes("arrives at"), fields.join(","));
  const shownType = await page.$eval("#inspector table.fields", (t) => t.textContent);
  assert.ok(/NOTIFICATION|FOLLOWERINFO|LEADERINFO|ACKEPOCH|DIFF|TRUNC|SNAP|NEWLEADER|UPTODATE|PROPOSAL|ACK|COMMIT|PING/.test(shownType));
  assert.ok(type);
  // → steps one event, ← steps back to the same moment.
  const steps = Number(await lab(page, "steps"));
  await page.keyboard.press("ArrowRight");
  assert.equal(Number(await lab(page, "steps")), steps + 1);
  await page.keyboard.press("ArrowLeft");
  assert.equal(Number(await lab(page, "steps")), steps);
  const shot = await screenshot(page, "04-message-inspector");
  assert.ok(shot.ink > 0.01);
  noErrors(errors);
  await page.close();
});

async function finalState(url) {
  const { page, errors } = await openPage(browser, url);
  await page.waitForFunction(() => document.querySelector("#lab").dataset.playing === "false");
  const state = await page.evaluate(() => ({
    time: document.querySelector("#lab").dataset.time,
    hash: document.querySelector("#lab").dataset.hash,
    servers: [...document.querySelectorAll("#cluster [data-node-id]")].map((e) => [e.dataset.nodeId, e.dataset.state, e.dataset.zxid]),
  }));
  noErrors(errors);
  return { page, state };
}

test("a URL with a seed, and a shared run, reproduce the same final state twice", async () => {
  const url = `${server.url}?seed=42&servers=5&t=6000`;
  const a = await finalState(url);
  const b = await finalState(url);
  assert.equal(a.state.time, "6000");
  assert.deepEqual(a.state, b.state);
  assert.equal(a.state.servers.filter(([, s]) => s === "LEADING").length, 1);
  const other = await finalState(`${server.url}?seed=43&servers=5&t=6000`);
  assert.notEqual(other.state.hash, a.state.hash, "another seed gives another run");
  await b.page.close();
  await other.page.close();

  // Act in the run (kill the leader), share it, open the link twice.
  const page = a.page;
  const leader = a.state.servers.find(([, s]) => s === "LEADING")[0];
  await page.click(`#cluster [data-node-id="${leader}"]`);
  await page.click('#inspector button[data-action="kill"]');
  await page.click("#step");
  await page.click("#share");
  const link = await page.$eval("#share-url", (el) => el.value);
  assert.match(link, /#run=[A-Za-z0-9_-]+&t=\d+&steps=\d+/);
  const here = await page.evaluate(() => document.querySelector("#lab").dataset.hash);
  const c = await finalState(link);
  const d = await finalState(link);
  assert.equal(c.state.hash, here);
  assert.deepEqual(c.state, d.state);
  const shot = await screenshot(c.page, "05-shared-run");
  assert.ok(shot.ink > 0.01);
  await page.close();
  await c.page.close();
  await d.page.close();
});

test("nine servers do not overlap, a bad link shows a message, large type renders", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?servers=7&observers=2&t=5000&large=1`);
  const boxes = await page.$$eval("#cluster [data-node-id] rect.box", (els) => els.map((e) => e.getBoundingClientRect().toJSON()));
  assert.equal(boxes.length, 9);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [p, q] = [boxes[i], boxes[j]];
      const overlap = p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom;
      assert.ok(!overlap, `servers ${i + 1} and ${j + 1} overlap`);
    }
  }
  assert.equal(await page.locator('#cluster [data-state="OBSERVING"]').count(), 2);
  const shot = await screenshot(page, "06-nine-servers-large-type");
  assert.ok(shot.ink > 0.01);
  noErrors(errors);
  await page.close();

  const bad = await openPage(browser, `${server.url}#run=not-base64!!`);
  await bad.page.waitForSelector("#error");
  assert.equal(await bad.page.locator("#cluster [data-node-id]").count(), 3, "falls back to the default run");
  await bad.page.close();
});

test("a run exports to a JSON file and imports back; a bad file shows a message", async () => {
  const { page, errors } = await openPage(browser, `${server.url}?seed=9&servers=5&t=3000`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  const file = await download.path();
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.equal(json.zablab_run, 1);
  assert.equal(json.scenario.seed, 9);
  assert.equal(json.scenario.config.participants, 5);

  const other = await openPage(browser, `${server.url}?speed=20`);
  await other.page.setInputFiles("#import", file);
  await other.page.waitForFunction(() => document.querySelectorAll("#cluster [data-node-id]").length === 5);
  assert.equal(await other.page.$eval("#seed", (el) => el.value), "9");
  const bad = path.join(path.dirname(file), "bad.json");
  fs.writeFileSync(bad, '{"zablab_run": 1, "scenario": {"seed": "x"}}');
  await other.page.setInputFiles("#import", bad);
  await other.page.waitForSelector("#error");
  noErrors(errors);
  noErrors(other.errors);
  await page.close();
  await other.page.close();
});
