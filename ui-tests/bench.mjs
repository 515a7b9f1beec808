// Measurements of the browser lab (prints numbers; asserts nothing). After `cargo xtask build`:
//   node bench.mjs
// 1. gzipped size of the wasm and JS shipped in dist/, per module (lab page, lessons);
// 2. simulated deliveries per second in Chromium (`?bench=sim`, the workload of the core's
//    native `sim_bench` example; compare with `cargo run --release -p zablab-core --example sim_bench`);
// 3. frame time with 9 servers and about 1,000 messages in flight (`?bench=frame`).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { DIST, serveDist, launch, openPage } from "./harness.mjs";

// Two modules: `zablab-ui` (the lab page) and `zablab-lessons` (loaded for `?lesson=` and
// `?bench=sim` instead of it); each page loads one of them.
const modules = {};
for (const name of fs.readdirSync(DIST)) {
  if (!/\.(wasm|js)$/.test(name)) continue;
  const buf = fs.readFileSync(path.join(DIST, name));
  const gz = zlib.gzipSync(buf, { level: 9 }).length;
  const m = (modules[name.replace(/(_bg)?\.(wasm|js)$/, "")] ??= { raw: 0, gz: 0 });
  m.raw += buf.length;
  m.gz += gz;
  console.log(`${name}: ${(buf.length / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB gzip`);
}
for (const [name, m] of Object.entries(modules)) {
  console.log(`${name} (wasm + JS): ${(m.raw / 1024).toFixed(1)} KB raw, ${(m.gz / 1024).toFixed(1)} KB gzip`);
}

const server = await serveDist();
const browser = await launch();
try {
  for (const mode of process.argv.slice(2).length ? process.argv.slice(2) : ["sim", "frame"]) {
    const { page, errors } = await openPage(browser, `${server.url}?bench=${mode}`);
    await page.waitForSelector("#bench-result", { timeout: 120_000 });
    console.log(`\n== ?bench=${mode} (Chromium) ==`);
    console.log(await page.$eval("#bench-result", (el) => el.textContent));
    if (errors.length) console.log(`console errors: ${errors.join("\n")}`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
