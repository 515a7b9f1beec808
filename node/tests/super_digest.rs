//! `DigestAuthenticationProvider.superDigest`: read from zoo.cfg in both
//! spellings (server 1 the zoo.cfg key, servers 2 and 3 ZooKeeper's system-property name), not
//! reported as unknown, and the super user passes every ACL, through the leader and through a
//! follower. Checked with the raw jute client always, and with kazoo
//! (tests/clients/kazoo_super.py) when it is installed (required when ZABLAB_REQUIRE_CLIENTS=1).

mod common;
mod hostile;
mod realclients;

use std::process::Command;

use hostile::*;
use realclients::{available, repo_root};
use zablab_core::tree::{digest_id, Acl, ErrorCode};

/// The digest of `super:test`, as ZooKeeper's `DigestAuthenticationProvider.generateDigest`.
const SUPER: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

fn kazoo_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import kazoo"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_super_digest_from_zoo_cfg_passes_every_acl() {
    let mut e = Ensemble::start("super-digest", |sid| {
        if sid == 1 {
            format!("DigestAuthenticationProvider.superDigest={SUPER}\n")
        } else {
            format!("zookeeper.DigestAuthenticationProvider.superDigest={SUPER}\n")
        }
    });
    assert_eq!(digest_id("super:test"), SUPER);
    let leader = e.leader();
    let follower = e.follower();
    for (n, i) in [leader, follower].into_iter().enumerate() {
        let addr = e.addr(i);
        let path = format!("/alice-{n}");
        let mut alice = Raw::connect(&addr, 30_000);
        alice.add_auth("digest", b"alice:secret").expect("alice");
        let only_alice = vec![Acl::new(OPEN, "digest", &digest_id("alice:secret"))];
        alice.create(&path, b"a", only_alice).expect("create");

        let mut anon = Raw::connect(&addr, 30_000);
        assert_eq!(anon.get_data(&path), Err(ErrorCode::NoAuth));
        assert_eq!(anon.set_data(&path, b"x"), Err(ErrorCode::NoAuth));
        let mut wrong = Raw::connect(&addr, 30_000);
        wrong
            .add_auth("digest", b"super:wrong")
            .expect("any digest authenticates");
        assert_eq!(wrong.get_data(&path), Err(ErrorCode::NoAuth));

        let mut root = Raw::connect(&addr, 30_000);
        root.add_auth("digest", b"super:test").expect("super");
        assert_eq!(root.get_data(&path), Ok(Some(b"a".to_vec())));
        root.set_data(&path, b"by super").expect("super writes");
        assert_eq!(alice.get_data(&path), Ok(Some(b"by super".to_vec())));
    }
    for i in 0..3 {
        let log = e.log(i);
        assert!(
            !log.contains("unknown configuration key"),
            "server {} warned:\n{log}",
            i + 1
        );
        assert!(e.alive(i));
    }

    if !available(
        "kazoo (python3 -m pip)",
        kazoo_installed(),
        "pip install kazoo",
    ) {
        return;
    }
    let script = repo_root().join("tests/clients/kazoo_super.py");
    let out = Command::new("timeout")
        .args(["120", "python3"])
        .arg(&script)
        .args([e.addr(leader), e.addr(follower)])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("--- kazoo super:\n{stdout}");
    assert!(
        out.status.success() && stdout.contains("kazoo super: all checks passed"),
        "kazoo super checks failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
