// Shared by the browser tests and the measurements: serve dist/ on 127.0.0.1:0 and drive
// Debian's chromium with playwright-core (no browser download).
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(here, "..", "dist");
export const SHOTS = path.resolve(here, "screenshots");

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/// Serves `dir` (default `dist/`; the measurements also serve a saved build of main beside it).
/// With `api` ("127.0.0.1:PORT"), requests under `/api/` go to that control API, as
/// `cargo xtask serve` sends them to `zablab cluster --control` (the live lab's tests).
export async function serveDist(dir = DIST, { api } = {}) {
  const root = path.resolve(dir);
  if (!fs.existsSync(path.join(root, "index.html"))) {
    throw new Error(`${root} has no index.html: run \`cargo xtask build\` first`);
  }
  const server = http.createServer((req, res) => {
    if (api && req.url.startsWith("/api/")) {
      const [host, port] = api.split(":");
      const headers = { ...req.headers, host: api };
      const fwd = http.request({ host, port: Number(port), path: req.url, method: req.method, headers, timeout: 20_000 }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      fwd.on("error", (e) => res.writeHead(502, { "Content-Type": "application/json" }).end(JSON.stringify({ error: String(e) })));
      req.pipe(fwd);
      return;
    }
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
    const file = path.resolve(root, rel);
    if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": MIME[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

/// gzip -9 of each module's `.js` + `_bg.wasm` in `dir`: { name: { raw, gz } }.
export function moduleSizes(dir) {
  const modules = {};
  for (const name of fs.readdirSync(dir)) {
    if (!/\.(wasm|js)$/.test(name)) continue;
    const buf = fs.readFileSync(path.join(dir, name));
    const m = (modules[name.replace(/(_bg)?\.(wasm|js)$/, "")] ??= { raw: 0, gz: 0 });
    m.raw += buf.length;
    m.gz += zlib.gzipSync(buf, { level: 9 }).length;
  }
  return modules;
}

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/// A page that records console errors and uncaught exceptions.
export async function openPage(browser, url, viewport = { width: 1500, height: 950 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("#lab");
  return { page, errors };
}

/// Share of non-zero bytes in a PNG's filtered image data: about 0 for a blank page.
export function pngInk(buf) {
  let off = 8;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("ascii", off + 4, off + 8);
    if (type === "IDAT") idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  let nonzero = 0;
  for (const b of raw) if (b !== 0) nonzero++;
  return nonzero / raw.length;
}

export async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  const buf = await page.screenshot({ path: file });
  return { file, ink: pngInk(buf), bytes: buf.length };
}
