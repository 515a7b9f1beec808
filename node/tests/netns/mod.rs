//! Linux network namespaces for the multi-host test: one namespace per "machine" and one for
//! the clients, each with an `eth0` (a veth pair) on one bridge, addresses 10.77.0.0/24 that
//! exist only inside them (the bridge itself has none, so parallel runs cannot collide), and an
//! optional `/etc/netns/<ns>/hosts`, which `ip netns exec` mounts over `/etc/hosts` so servers
//! resolve each other by hostname as on real machines. Partitions are iptables rules inside a
//! server's namespace. Everything made here is undone on drop, processes first (by PID).
#![allow(dead_code)]

pub mod ensemble;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// Runs a command; its stdout, or the reason it failed.
pub fn run(args: &[&str]) -> Result<String, String> {
    let (prog, rest) = args.split_first().ok_or("empty command")?;
    let out: Output = Command::new(prog)
        .args(rest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) -> String {
    run(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Why this machine cannot run the test, or `None` when it can: root, `ip netns`, iptables,
/// python3 with kazoo.
pub fn unavailable() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Some(format!(
            "not root (uid {uid}): network namespaces need root"
        ));
    }
    let probe = format!("zablab-probe-{}", std::process::id());
    if let Err(e) = run(&["ip", "netns", "add", &probe]) {
        return Some(format!("`ip netns add` does not work here: {e}"));
    }
    let ipt = run(&["ip", "netns", "exec", &probe, "iptables", "-S"]);
    let _ = run(&["ip", "netns", "del", &probe]);
    if let Err(e) = ipt {
        return Some(format!(
            "iptables does not work in a namespace (apt-get install iptables): {e}"
        ));
    }
    if run(&["python3", "-c", "import kazoo"]).is_err() {
        return Some("python3 kazoo is missing (python3 -m pip install kazoo)".into());
    }
    None
}

/// The namespaces, bridge and hosts files of one run, and the processes started in them.
pub struct Net {
    pub tag: String,
    bridge: String,
    /// Server namespaces, index 0 = server 1.
    pub servers: Vec<String>,
    pub client: String,
    hosts_dirs: Vec<PathBuf>,
    /// Processes started in the namespaces: killed (SIGKILL, by PID) and reaped on drop.
    pub children: Vec<Child>,
}

/// Server `sid`'s address (sids from 1).
pub fn addr(sid: usize) -> String {
    format!("10.77.0.{sid}")
}

pub const CLIENT_ADDR: &str = "10.77.0.100";

impl Net {
    /// `n` server namespaces and one client namespace on a new bridge. `hostnames`: write
    /// hosts files naming server N `zkN`.
    pub fn new(n: usize, hostnames: bool) -> Net {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Interface names are at most 15 bytes: "zlv" + 5 hex + index.
        let tag = format!(
            "{:05x}",
            (std::process::id().wrapping_mul(2654435761) ^ nanos) & 0xfffff
        );
        let mut net = Net {
            bridge: format!("zlb{tag}"),
            servers: (1..=n).map(|i| format!("zablab-{tag}-s{i}")).collect(),
            client: format!("zablab-{tag}-c"),
            tag,
            hosts_dirs: Vec::new(),
            children: Vec::new(),
        };
        must(&["ip", "link", "add", &net.bridge, "type", "bridge"]);
        must(&["ip", "link", "set", &net.bridge, "up"]);
        let mut all: Vec<(String, String)> = net
            .servers
            .iter()
            .enumerate()
            .map(|(i, ns)| (ns.clone(), addr(i + 1)))
            .collect();
        all.push((net.client.clone(), CLIENT_ADDR.to_string()));
        for (i, (ns, ip)) in all.iter().enumerate() {
            must(&["ip", "netns", "add", ns]);
            let outer = format!("zlv{}{i}", net.tag);
            let inner = format!("zlp{}{i}", net.tag);
            must(&[
                "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ]);
            must(&["ip", "link", "set", &inner, "netns", ns]);
            must(&["ip", "link", "set", &outer, "master", &net.bridge, "up"]);
            must(&["ip", "-n", ns, "link", "set", &inner, "name", "eth0"]);
            must(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ]);
            must(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        if hostnames {
            let mut hosts = String::from("127.0.0.1 localhost\n");
            for i in 1..=n {
                hosts.push_str(&format!("{} zk{i}\n", addr(i)));
            }
            for (ns, _) in &all {
                let d = PathBuf::from("/etc/netns").join(ns);
                std::fs::create_dir_all(&d).expect("/etc/netns dir");
                net.hosts_dirs.push(d.clone());
                std::fs::write(d.join("hosts"), &hosts).expect("hosts file");
            }
        }
        net
    }

    /// `ip netns exec NS args...`, waited for: its stdout whatever its exit status.
    pub fn exec_output(&self, ns: &str, args: &[&str]) -> String {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// `ip netns exec NS args...`, waited for.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Starts `args` in `ns` (`ip netns exec` execs it, so the PID is the program's).
    pub fn spawn(
        &mut self,
        ns: &str,
        args: &[&str],
        stdin: Stdio,
        stdout: Stdio,
        stderr: Stdio,
    ) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("ip netns exec");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// SIGKILL and reap one started process.
    pub fn kill(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut c = self.children.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Takes a started process out of the guard (the caller waits for it).
    pub fn take(&mut self, pid: u32) -> Option<Child> {
        let i = self.children.iter().position(|c| c.id() == pid)?;
        Some(self.children.remove(i))
    }

    /// Drops every packet between server `a` and server `b` (sids), both directions, in
    /// `a`'s namespace: as a firewall between two machines.
    pub fn cut_both(&self, a: usize, b: usize) {
        let ns = &self.servers[a - 1];
        let ip = addr(b);
        must(&[
            "ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-s", &ip, "-j", "DROP",
        ]);
        must(&[
            "ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-d", &ip, "-j", "DROP",
        ]);
    }

    /// Server `a` stops receiving from server `b`; `b` still receives from `a`.
    pub fn cut_in(&self, a: usize, b: usize) {
        let ns = &self.servers[a - 1];
        must(&[
            "ip",
            "netns",
            "exec",
            ns,
            "iptables",
            "-A",
            "INPUT",
            "-s",
            &addr(b),
            "-j",
            "DROP",
        ]);
    }

    /// Removes every rule in every server namespace.
    pub fn heal(&self) {
        for ns in &self.servers {
            must(&["ip", "netns", "exec", ns, "iptables", "-F"]);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.servers.iter().chain(std::iter::once(&self.client)) {
            let _ = run(&["ip", "netns", "del", ns]);
        }
        // Deleting a namespace deletes its veth end and with it the peer on the bridge.
        let _ = run(&["ip", "link", "del", &self.bridge]);
        for d in &self.hosts_dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
