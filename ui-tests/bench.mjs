// Measurements of the browser lab (prints numbers; asserts nothing). After `cargo xtask build`:
//   node bench.mjs                          # sizes, ?bench=sim, ?bench=frame on dist/
//   node bench.mjs frame                    # only the frame measurement
//   node bench.mjs --dist /tmp/main-dist --dist ../dist --rounds 3 frame
//                                           # builds side by side, alternating A B A B ...
// 1. gzipped size (gzip -9) of the wasm and JS shipped in each dist/, per module;
// 2. simulated deliveries per second in Chromium (`?bench=sim`, the workload of the core's
//    native `sim_bench` example; compare with `cargo run --release -p zablab-core --example sim_bench`);
// 3. frames with 9 servers and about 1,000 messages in flight (`?bench=frame`): the page's own
//    figures (work per tick, tick-to-tick interval) and the interval between the frames the
//    browser actually produced (requestAnimationFrame timestamps, recorded here; the last
//    `frames` of them before the result, none from before the set-up's long stall).
import path from "node:path";
import { DIST, serveDist, launch, openPage, moduleSizes } from "./harness.mjs";

const args = process.argv.slice(2);
const dists = [];
const modes = [];
let rounds = 1;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--dist") dists.push(path.resolve(args[++i]));
  else if (args[i] === "--rounds") rounds = Number(args[++i]);
  else modes.push(args[i]);
}
if (!dists.length) dists.push(DIST);
if (!modes.length) modes.push("sim", "frame");
if (!(rounds >= 1)) throw new Error("--rounds needs a positive number");

for (const dir of dists) {
  console.log(`\n== sizes of ${dir} ==`);
  for (const [name, m] of Object.entries(moduleSizes(dir))) {
    console.log(`${name} (wasm + JS): ${(m.raw / 1024).toFixed(1)} KB raw, ${(m.gz / 1024).toFixed(1)} KB gzip`);
  }
}

function p95(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))];
}

const servers = await Promise.all(dists.map((d) => serveDist(d)));
const browser = await launch();
const frames = dists.map(() => []);
try {
  for (let round = 0; round < rounds; round++) {
    for (const [i, server] of servers.entries()) {
      for (const mode of modes) {
        const { page, errors } = await openPage(browser, `${server.url}?bench=${mode}`);
        // Every frame's timestamp from the start; the set-up (stepping to 1,000 messages in one
        // go) is one stall of seconds, so the measured frames are those after the last stall.
        await page.evaluate(() => {
          window.__frames = [];
          const loop = (t) => {
            window.__frames.push(t);
            requestAnimationFrame(loop);
          };
          requestAnimationFrame(loop);
        });
        await page.waitForSelector("#bench-result", { timeout: 180_000 });
        const text = await page.$eval("#bench-result", (el) => el.textContent);
        const stamps = await page.evaluate(() => window.__frames);
        console.log(`\n== round ${round + 1}, ${dists[i]}: ?bench=${mode} (Chromium) ==`);
        console.log(text);
        if (mode === "frame") {
          const n = Number(/over (\d+) frames/.exec(text)?.[1] ?? 0);
          let gaps = stamps.slice(1).map((t, k) => t - stamps[k]);
          const stall = gaps.findLastIndex((g) => g > 1000);
          gaps = gaps.slice(stall + 1).slice(-n);
          const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
          console.log(
            `browser frame interval (rAF): mean ${mean.toFixed(2)} ms, p95 ${p95(gaps).toFixed(2)} ms over ${gaps.length} frames`,
          );
          frames[i].push(p95(gaps));
        }
        if (errors.length) console.log(`console errors: ${errors.join("\n")}`);
        await page.close();
      }
    }
  }
} finally {
  await browser.close();
  await Promise.all(servers.map((s) => s.close()));
}
if (modes.includes("frame")) {
  console.log("\n== frame interval p95 per round (rAF) ==");
  for (const [i, d] of dists.entries()) console.log(`${d}: ${frames[i].map((f) => f.toFixed(2)).join(", ")} ms`);
}
