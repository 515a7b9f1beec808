//! ZabLab's build tool, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! * `build` — adds the wasm target if missing, compiles the browser lab (`zablab-ui`) for
//!   `wasm32-unknown-unknown` with the small `wasm-release` profile, generates the JS glue with
//!   the `wasm-bindgen` library (same pinned version as the `wasm-bindgen` crate, so no global
//!   `cargo install`), strips the glue's comments and indentation, and writes the page into
//!   `dist/`. The UI is built five times: `zablab-ui`
//!   (the lab page), `zablab-lessons` (`--features lessons`, loaded by `index.html` for
//!   `?lesson=`), `zablab-bench` (`--features sim-bench`, for `?bench=sim`) and `zablab-museum`
//!   (`--features museum`, for `?museum=`) and `zablab-live` (`--features live`, for `?live`: the
//!   real cluster). The lesson files are copied into `dist/lessons/`:
//!   the lessons module fetches each when it is opened.
//!   `build --module NAME` rebuilds only that module into the existing `dist/` (the others stay),
//!   for measuring one change without four release builds.
//! * `serve [--port 8080]` — serves `dist/` on 127.0.0.1 with a tiny std-only HTTP server.
//! * `lab [--port 8080]` — `build`, then starts a 3-server native cluster (`zablab cluster`) if the
//!   node binary builds, serves the page and prints its URL; Ctrl-C stops everything. The cluster
//!   runs with `--live --control 127.0.0.1:(port+10)` (8090: 8081.. are the servers'
//!   AdminServers), and the page's `/api/` requests are proxied there, so the page can kill,
//!   restart and wipe real servers, cut links and write and read through any server.

mod serve;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const UI_PACKAGE: &str = "zablab-ui";
const UI_PROFILE: &str = "wasm-release";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    if command == "build" {
        return match parse_module(rest).and_then(|m| build(m.as_deref())) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let port = match parse_port(rest) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        "serve" => serve::serve(&dist_dir(), port, None, |url| {
            println!("Serving ZabLab on {url}")
        }),
        "lab" => lab(port),
        "help" | "--help" | "-h" => {
            print_help();
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{}", help_text())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn help_text() -> &'static str {
    "usage: cargo xtask build [--module zablab-ui|zablab-lessons|zablab-bench|zablab-museum|zablab-live] | serve [--port 8080] | lab [--port 8080]"
}

fn print_help() {
    println!("{}", help_text());
}

fn parse_port(args: &[String]) -> Result<u16, String> {
    let mut port = 8080;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                let v = it.next().ok_or("--port needs a number")?;
                port = v.parse().map_err(|_| format!("bad port `{v}`"))?;
            }
            other => return Err(format!("unknown option `{other}`\n{}", help_text())),
        }
    }
    Ok(port)
}

/// `build`'s options: `--module NAME` (one of [`MODULES`]) or nothing (all of them).
fn parse_module(args: &[String]) -> Result<Option<String>, String> {
    match args {
        [] => Ok(None),
        [flag, name] if flag == "--module" => {
            if MODULES.iter().any(|(n, _, _)| n == name) {
                Ok(Some(name.clone()))
            } else {
                let names: Vec<&str> = MODULES.iter().map(|(n, _, _)| *n).collect();
                Err(format!(
                    "unknown module `{name}` (one of {})",
                    names.join(", ")
                ))
            }
        }
        _ => Err(format!(
            "bad build options `{}`\n{}",
            args.join(" "),
            help_text()
        )),
    }
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn dist_dir() -> PathBuf {
    root().join("dist")
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => root().join("target"),
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
        });
    match installed {
        Ok(true) => Ok(()),
        Ok(false) => {
            println!("xtask: adding the {WASM_TARGET} target");
            run(
                Command::new("rustup").args(["target", "add", WASM_TARGET]),
                "rustup target add",
            )
        }
        // No rustup (a distribution's Rust): assume the target is there; cargo will say if not.
        Err(_) => Ok(()),
    }
}

/// The page's wasm modules: (name in `dist/`, features of `zablab-ui`, profile). The lab page
/// loads the first; `index.html` loads the second instead for `?lesson=`, the third for
/// `?bench=sim` and the fourth for `?museum=` (the lesson engine and the lesson files would take
/// the lab page over its size budget, the benchmark's second simulator instantiation would take
/// the lessons over theirs, and the museum is the lab with the core's seeded bugs compiled in,
/// `zablab-core/mutations`); the fifth, for `?live`, draws the real cluster of `lab` from its
/// trace streams. The lab page and the lessons use the profile `wasm-lessons` (the
/// core optimised for size: the lab page's budget); the benchmark and the museum keep the fast
/// core of `wasm-release`.
const MODULES: [(&str, &[&str], &str); 5] = [
    ("zablab-ui", &[], "wasm-lessons"),
    ("zablab-lessons", &["lessons"], "wasm-lessons"),
    ("zablab-bench", &["sim-bench"], UI_PROFILE),
    ("zablab-museum", &["museum"], UI_PROFILE),
    ("zablab-live", &["live"], "wasm-lessons"),
];

/// Builds the page into `dist/` and returns that directory: every module into a fresh `dist/`,
/// or only `only` into the existing one.
fn build(only: Option<&str>) -> Result<PathBuf, String> {
    ensure_wasm_target()?;
    let root = root();
    let dist = dist_dir();
    if dist.exists() && only.is_none() {
        std::fs::remove_dir_all(&dist)
            .map_err(|e| format!("cannot clear {}: {e}", dist.display()))?;
    }
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    for (name, features, profile) in MODULES {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let mut cmd = cargo();
        cmd.current_dir(&root).args([
            "build",
            "-p",
            UI_PACKAGE,
            "--bin",
            UI_PACKAGE,
            "--target",
            WASM_TARGET,
            "--profile",
            profile,
        ]);
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
        run(&mut cmd, &format!("cargo build (wasm, {name})"))?;
        // Builds of one profile write the same file: bind each before the next build.
        let wasm = target_dir()
            .join(WASM_TARGET)
            .join(profile)
            .join("zablab-ui.wasm");
        wasm_bindgen_cli_support::Bindgen::new()
            .input_path(&wasm)
            .out_name(name)
            .web(true)
            .map_err(|e| format!("wasm-bindgen: {e}"))?
            .typescript(false)
            .omit_default_module_path(false)
            .generate(&dist)
            .map_err(|e| format!("wasm-bindgen on {}: {e}", wasm.display()))?;
        let glue = dist.join(format!("{name}.js"));
        let js = std::fs::read_to_string(&glue)
            .map_err(|e| format!("cannot read {}: {e}", glue.display()))?;
        std::fs::write(&glue, strip_js(&js))
            .map_err(|e| format!("cannot write {}: {e}", glue.display()))?;
        let size: u64 = [format!("{name}.js"), format!("{name}_bg.wasm")]
            .iter()
            .map(|f| {
                std::fs::metadata(dist.join(f))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum();
        println!("xtask: {name}: {} KB of wasm + JS", size / 1024);
    }
    std::fs::copy(root.join("index.html"), dist.join("index.html"))
        .map_err(|e| format!("cannot copy index.html: {e}"))?;
    copy_lessons(&root.join("lessons"), &dist.join("lessons"))?;
    println!("xtask: wrote {}", dist.display());
    Ok(dist)
}

/// wasm-bindgen's JS glue without its comments and indentation (about 0.9 KB gzip per module,
/// no minifier needed): whole-line `//` comments and `/* ... */` blocks that start a line are
/// dropped, every other line is kept, trimmed, on its own line (so no statement runs into the
/// next). The glue's template literals are one line each, so no string changes.
fn strip_js(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut in_block = false;
    for line in js.lines() {
        let t = line.trim();
        if in_block {
            in_block = !t.contains("*/");
            continue;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        if let Some(rest) = t.strip_prefix("/*") {
            in_block = !rest.contains("*/");
            continue;
        }
        out.push_str(t);
        out.push('\n');
    }
    out
}

/// Copies the lesson files (`lessons/*.json`) into `dist/lessons/`: the lessons module fetches
/// each one when it is opened instead of carrying all of them in its wasm (44 KB gzip).
fn copy_lessons(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let mut copied = 0;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", from.display()))?
            .path();
        if path.extension().is_some_and(|x| x == "json") {
            let file = to.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &file)
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
            copied += 1;
        }
    }
    if copied == 0 {
        return Err(format!("no lesson files (*.json) in {}", from.display()));
    }
    println!("xtask: copied {copied} lesson files into {}", to.display());
    Ok(())
}

/// Children started by `lab`, killed when it ends. The cluster also holds the read end of a
/// pipe to its stdin (`--stop-with-stdin`): when `lab` ends any other way (SIGTERM, SIGKILL),
/// the pipe closes and the cluster stops its servers instead of outliving the page.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The control API of the lab's cluster: the page's port + this (8090 for 8080; 8081.. are
/// the servers' AdminServers).
const CONTROL_PORT_OFFSET: u16 = 10;

fn lab(port: u16) -> Result<(), String> {
    let control_port = port
        .checked_add(CONTROL_PORT_OFFSET)
        .ok_or_else(|| format!("--port {port} leaves no room for the control port"))?;
    let control = format!("127.0.0.1:{control_port}");
    let dist = build(None)?;
    let mut children = Children(Vec::new());
    let root = root();
    println!("xtask: building the native node (zablab-node) for a local 3-server cluster");
    let built = cargo()
        .current_dir(&root)
        .args(["build", "--release", "-p", "zablab-node", "--bin", "zablab"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if built {
        let exe = target_dir().join("release").join(if cfg!(windows) {
            "zablab.exe"
        } else {
            "zablab"
        });
        let dir = std::env::temp_dir().join(format!("zablab-lab-{}", std::process::id()));
        match Command::new(&exe)
            .args(["cluster", "--size", "3", "--stop-with-stdin", "--live"])
            .args(["--control", &control, "--dir"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .spawn()
        {
            Ok(child) => {
                println!(
                    "xtask: started `zablab cluster --size 3 --live` (data in {}; control API on {control}, proxied at /api/)",
                    dir.display()
                );
                children.0.push(child);
            }
            Err(e) => println!(
                "xtask: could not start {}: {e}; continuing with the browser lab only",
                exe.display()
            ),
        }
    } else {
        println!("xtask: the native node does not build yet; continuing with the browser lab only");
    }
    // Children are stopped when `children` drops: after the server returns, and on Ctrl-C
    // because the terminal sends SIGINT to the whole foreground process group.
    let result = serve::serve(&dist, port, Some(&control), |url| {
        println!();
        println!("  ZabLab is running: open {url}");
        println!("  (Ctrl-C to stop)");
        println!();
    });
    drop(children);
    result
}

#[cfg(test)]
mod tests {
    use super::strip_js;

    #[test]
    fn strip_js_drops_comments_and_indentation_only() {
        let js = "/**\n * Doc.\n */\nexport function f(a) {\n    // why\n    return `${a} // not a comment`; /* kept */\n}\n\n/* one line */\nconst x = '/*';\n";
        assert_eq!(
            strip_js(js),
            "export function f(a) {\nreturn `${a} // not a comment`; /* kept */\n}\nconst x = '/*';\n"
        );
    }
}
