// The live lab (issue 12 item 7) in Chromium with a real cluster: `zablab cluster --live
// --control` (3 servers on 127.0.0.1, their trace streams and fault hooks, the lab process's
// control API), the page served with `/api/` proxied to it as `cargo xtask lab` does. The page
// draws the real servers, kills the leader's process and writes through a server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DIST, serveDist, launch, openPage, screenshot } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const TARGET = process.env.CARGO_TARGET_DIR ?? path.resolve(here, "..", "target");
const ZABLAB = path.join(TARGET, "release", "zablab");
// Every port a 3-server `zablab cluster --live` uses, as offsets from its base port.
const OFFSETS = [0, 707, 1707, 3000, 3100, 4819, 5900].flatMap((o) => [o, o + 1, o + 2]).concat([50]);

let cluster, server, browser, dir;

function free(port) {
  return new Promise((ok) => {
    const s = net.createServer().once("error", () => ok(false));
    s.listen(port, "127.0.0.1", () => s.close(() => ok(true)));
  });
}

async function freeBase() {
  for (let attempt = 0; attempt < 20; attempt++) {
    // Under Linux's ephemeral range (32768..): a server restarted from the page must find its
    // ports free, and a port in that range can be taken meanwhile by an outgoing connection.
    const base = 10000 + 100 * Math.floor(Math.random() * 160);
    const all = await Promise.all(OFFSETS.map((o) => free(base + o)));
    if (all.every(Boolean)) return base;
  }
  throw new Error("no free base port for the cluster");
}

before(async () => {
  assert.ok(fs.existsSync(ZABLAB), `${ZABLAB} is missing: cargo build --release -p zablab-node`);
  const base = await freeBase();
  const control = `127.0.0.1:${base + 50}`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "zablab-live-ui-"));
  cluster = spawn(ZABLAB, ["cluster", "--size", "3", "--live", "--control", control, "--base-port", String(base),
    "--dir", dir, "--stop-with-stdin"], { stdio: ["pipe", "pipe", "inherit"] });
  cluster.stdout.on("data", () => {});
  server = await serveDist(DIST, { api: control });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (cluster && cluster.exitCode === null) {
    cluster.stdin.end();
    process.kill(cluster.pid, "SIGTERM");
    await new Promise((ok) => { cluster.once("exit", ok); setTimeout(ok, 10_000); });
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const leaders = (page) => page.$$eval('#cluster [data-node-id][data-live="true"][data-state="LEADING"]', (els) => els.map((e) => e.dataset.nodeId));

test("the live page draws the real cluster, survives a killed leader and shows a write in every log", async () => {
  // One click from the simulator's page.
  const { page, errors } = await openPage(browser, server.url, { width: 1280, height: 720 });
  await page.click("#to-live");
  await page.waitForSelector('#lab[data-live="true"]');
  await page.waitForFunction(() => {
    const live = document.querySelectorAll('#cluster [data-node-id][data-live="true"]');
    const leading = document.querySelectorAll('#cluster [data-node-id][data-live="true"][data-state="LEADING"]');
    return live.length === 3 && leading.length === 1;
  }, null, { timeout: 60_000 });
  assert.equal(await page.$eval("#lab", (el) => el.dataset.api), "true", "the control API answered");
  await screenshot(page, "live-1280");
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.waitForTimeout(300);
  await screenshot(page, "live-1920");
  await page.setViewportSize({ width: 1280, height: 720 });
  const fontPx = Number(await page.$eval("#cluster", (el) => el.dataset.fontPx));
  assert.ok(fontPx >= 14, `diagram type ${fontPx} px`);

  // A write through a follower, from the page's client form, reaches every server's log view.
  const [leader] = await leaders(page);
  const follower = leader === "1" ? "2" : "1";
  const znode = `/from-page-${process.pid}`;
  await page.selectOption("#live-via", follower);
  await page.fill("#live-path", znode);
  await page.fill("#live-data", "written from the browser");
  await page.click("#live-write");
  await page.waitForSelector("#live-result.ok", { timeout: 15_000 });
  await page.waitForFunction((z) => {
    for (const sid of ["1", "2", "3"]) {
      const cells = [...document.querySelectorAll(`#live-logs td[data-node-id="${sid}"]`)];
      if (!cells.some((c) => c.textContent.includes(z))) return false;
    }
    return true;
  }, znode, { timeout: 15_000 });

  // Kill -9 of the leader's process from the page: a new leader on screen within 5 s.
  await page.click(`#cluster [data-node-id="${leader}"]`);
  await page.waitForSelector(`#kill-${leader}`);
  const killed = Date.now();
  await page.click(`#kill-${leader}`);
  await page.waitForFunction((old) => {
    const l = [...document.querySelectorAll('#cluster [data-node-id][data-state="LEADING"]')].map((e) => e.dataset.nodeId);
    return l.length === 1 && l[0] !== old;
  }, leader, { timeout: 5_000 });
  const elapsed = Date.now() - killed;
  assert.equal(await page.$eval(`#cluster [data-node-id="${leader}"]`, (el) => el.dataset.state), "DOWN");
  await screenshot(page, "live-after-kill");
  const rate = await page.$eval("#live-rate", (el) => ({ rate: el.dataset.rate, skipped: el.dataset.skipped }));
  console.log(`live: kill of leader S${leader} → new leader on screen in ${elapsed} ms; ${rate.rate} events/s; skipped ${rate.skipped}`);

  // Restart it from the page: it comes back as a follower.
  await page.click(`#restart-${leader}`);
  await page.waitForFunction((sid) => document.querySelector(`#cluster [data-node-id="${sid}"]`)?.dataset.state === "FOLLOWING",
    leader, { timeout: 30_000 });

  // A one-way cut from the page is drawn as its direction's arrow; healing it removes it.
  await page.click(`#cluster [data-node-id="${follower}"]`);
  await page.click(`#cut-${follower}-${leader}`);
  await page.waitForSelector(`#cluster [data-dir="${follower}-${leader}"]`, { timeout: 10_000 });
  assert.equal(await page.$(`#cluster [data-dir="${leader}-${follower}"]`), null, "only that direction is cut");
  await screenshot(page, "live-cut");
  await page.click(`#heal-${follower}-${leader}`);
  await page.waitForFunction((d) => !document.querySelector(`#cluster [data-dir="${d}"]`), `${follower}-${leader}`, { timeout: 10_000 });

  // Under load (open-loop writes from `zablab bench`): the page keeps drawing one leader and
  // says how many events it is streamed and how many it was told it skipped.
  const client = await page.$eval(`#cluster [data-node-id="${follower}"] title`, (el) => el.textContent.split(" ")[1]);
  const bench = spawn(ZABLAB, ["bench", "--hosts", client, "--op", "set", "--secs", "4", "--rate", "2000", "--inflight", "16"], { stdio: "ignore" });
  let peak = 0;
  const benchDone = new Promise((ok) => bench.once("exit", ok));
  for (let i = 0; i < 10; i++) {
    await page.waitForTimeout(500);
    peak = Math.max(peak, Number(await page.$eval("#live-rate", (el) => el.dataset.rate)));
    if (i === 5) await screenshot(page, "live-load");
  }
  await benchDone;
  const skipped = await page.$eval("#live-rate", (el) => el.dataset.skipped);
  console.log(`live: under 2,000 writes/s the page folded up to ${peak} events/s; skipped ${skipped}`);
  assert.ok(peak > 100, `the writes reached the page (${peak} events/s)`);
  assert.equal((await leaders(page)).length, 1, "one leader drawn under load");

  // Record and replay: the session saves as a file in the one trace format, opens again
  // read-only, and scrubbing back to the first moments shows the servers before the kill.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#live-save")]);
  const saved = path.join(dir, "session.jsonl");
  await download.saveAs(saved);
  const lines = fs.readFileSync(saved, "utf8").trim().split("\n");
  assert.deepEqual(JSON.parse(lines[0]), { format: "zablab-trace", version: 1, node: null });
  assert.ok(lines.length > 100, `${lines.length} lines saved`);
  await page.setInputFiles("#live-open", saved);
  await page.waitForSelector('#lab[data-replay="true"]');
  assert.ok(await page.$eval("#live-write", (b) => b.disabled), "a replay is read-only");
  const scrub = await page.$("#live-scrub");
  const max = Number(await scrub.getAttribute("max"));
  assert.equal(max, lines.length - 1, "every saved record is on the scrubber");
  // Up to the first status of every server (each stream starts with one): the leader before
  // the kill leads again on screen.
  const records = lines.slice(1).map((l) => JSON.parse(l));
  const firstStatus = (sid) => records.findIndex((r) => r.node === sid && r.event.Status);
  const upTo = Math.max(...[1, 2, 3].map(firstStatus)) + 1;
  assert.ok(upTo > 0 && [1, 2, 3].every((sid) => firstStatus(sid) >= 0), "a status of every server was saved");
  await scrub.evaluate((el, v) => { el.value = String(v); el.dispatchEvent(new Event("input", { bubbles: true })); }, upTo);
  await page.waitForFunction((l) => {
    const lead = [...document.querySelectorAll('#cluster [data-node-id][data-state="LEADING"]')].map((e) => e.dataset.nodeId);
    return lead.length === 1 && lead[0] === l;
  }, leader, { timeout: 5_000 });
  await screenshot(page, "live-replay");
  await page.click("#live-back");
  await page.waitForSelector('#lab[data-replay="false"]');
  assert.deepEqual(errors, [], "no console errors");
});
