//! kazoo (Python, from pip, unmodified) against a 3-server `zablab cluster`: the checks of
//! tests/clients/kazoo_check.py, once through a follower and once through the leader, each time
//! moving a session to another server. Skips when kazoo is not installed, unless
//! ZABLAB_REQUIRE_CLIENTS=1 (CI).

mod common;
mod realclients;

use std::process::Command;

use realclients::*;

fn kazoo_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import kazoo"])
        .status()
        .is_ok_and(|s| s.success())
}

fn run(primary: &str, other: &str, label: &str) {
    let script = repo_root().join("tests/clients/kazoo_check.py");
    let out = Command::new("timeout")
        .args(["120", "python3"])
        .arg(&script)
        .args([primary, other, label])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- kazoo via {label} {primary}:\n{stdout}");
    assert!(
        out.status.success() && stdout.contains("kazoo: all checks passed"),
        "kazoo checks via the {label} failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn kazoo_through_a_follower_and_through_the_leader() {
    if !available(
        "kazoo (python3 -m pip)",
        kazoo_installed(),
        "pip install kazoo",
    ) {
        return;
    }
    let cluster = ZablabCluster::start("kazoo");
    let (leader, f1, f2) = cluster.roles();
    run(&f1, &leader, "follower");
    run(&leader, &f2, "leader");
}
