//! Apache ZooKeeper's own command-line clients against a 3-server `zablab cluster`, once through
//! a follower and once through the leader: the Java `zkCli.sh` (Debian `zookeeper`) and the C
//! `cli_mt` (Debian `zookeeper-bin`). Commands are fed on stdin (zkCli after its JVM has
//! connected, cli_mt with pauses). Skips when not installed, unless ZABLAB_REQUIRE_CLIENTS=1.

mod common;
mod realclients;

use std::path::Path;
use std::time::Duration;

use realclients::*;

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";
const INSTALL: &str = "apt-get install -y zookeeper zookeeper-bin";

fn zkcli(server: &str, label: &str) {
    let r = format!("/zkcli-{label}");
    // digest of u:p = base64(sha1("u:p")), computed with openssl.
    let digest = "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=";
    let script: Vec<String> = vec![
        format!("create {r} hello"),
        format!("get {r}"),
        format!("set {r} v2"),
        format!("set -v 0 {r} stale"),
        format!("get -s {r}"),
        format!("create -s -e {r}/e- x"),
        format!("create -s {r}/s- y"),
        format!("ls {r}"),
        format!("stat {r}"),
        format!("create {r}/sec s digest:{digest}:cdrwa"),
        format!("get {r}/sec"),
        format!("getAcl {r}/sec"),
        "addauth digest u:p".to_string(),
        format!("get {r}/sec"),
        format!("getAcl {r}/sec"),
        format!("setAcl {r}/sec world:anyone:r"),
        format!("getAcl {r}/sec"),
        format!("set {r}/sec nope"),
        format!("create {r}/d"),
        format!("delete {r}/d"),
        format!("ls {r}"),
        format!("deleteall {r}"),
        format!("stat {r}"),
        "quit".to_string(),
    ];
    let lines: Vec<&str> = script.iter().map(String::as_str).collect();
    // The JVM starts and connects (about 1 s) before the first command is read.
    let out = feed(
        ZKCLI,
        &["-server", server],
        &lines,
        Duration::from_millis(2500),
        Duration::from_millis(50),
    );
    eprintln!("--- zkCli.sh via {label} {server}:\n{out}");
    in_order(
        &out,
        &[
            "state:SyncConnected",
            &format!("Created {r}\n"),
            "hello\n",
            &format!("version No is not valid : {r}"),
            "v2\n",
            "dataVersion = 1",
            &format!("Created {r}/e-0000000000"),
            &format!("Created {r}/s-0000000001"),
            "[e-0000000000, s-0000000001]",
            "cversion = 2",
            "numChildren = 2",
            &format!("Created {r}/sec"),
            &format!("Insufficient permission : {r}/sec"),
            &format!("Insufficient permission : {r}/sec"),
            "s\n",
            &format!("'digest,'{digest}\n: cdrwa"),
            "'world,'anyone\n: r",
            &format!("Insufficient permission : {r}/sec"),
            &format!("Created {r}/d"),
            "[e-0000000000, s-0000000001, sec]",
            &format!("Node does not exist: {r}"),
        ],
        &format!("zkCli.sh via the {label}"),
    );
}

fn cli_mt(server: &str, label: &str) {
    let r = format!("/climt-{label}");
    let script: Vec<String> = vec![
        format!("create {r}"),
        format!("create +s {r}/s-"),
        format!("create +e {r}/eph"),
        format!("get {r}"),
        format!("set {r} world"),
        format!("get {r}"),
        format!("ls {r}"),
        format!("delete {r}"),
        format!("delete {r}/eph"),
        format!("delete {r}/s-0000000000"),
        format!("delete {r}"),
        format!("exists {r}"),
        "quit".to_string(),
    ];
    let lines: Vec<&str> = script.iter().map(String::as_str).collect();
    let out = feed(
        CLI_MT,
        &[server],
        &lines,
        Duration::from_millis(800),
        Duration::from_millis(300),
    );
    eprintln!("--- cli_mt via {label} {server}:\n{out}");
    in_order(
        &out,
        &[
            "state = CONNECTED_STATE",
            &format!("[{r}]: rc = 0"),
            &format!("name = {r}\n"),
            &format!("name = {r}/s-0000000000"),
            &format!("name = {r}/eph"),
            "value_len = 3\nnew",
            "version=0",
            &format!("{r}: rc = 0 Stat:"),
            "version=1",
            "value_len = 5\nworld",
            "eph",
            "s-0000000000",
            &format!("{r}: rc = -111"), // delete of a node with children: NotEmpty
            &format!("{r}/eph: rc = 0"),
            &format!("{r}/s-0000000000: rc = 0"),
            &format!("{r}: rc = 0"),
            &format!("Error -101 for {r}"), // exists after delete: NoNode
        ],
        &format!("cli_mt via the {label}"),
    );
}

#[test]
fn zkcli_and_cli_mt_through_a_follower_and_through_the_leader() {
    let zk = available("zkCli.sh", Path::new(ZKCLI).exists(), INSTALL);
    let mt = available("cli_mt", Path::new(CLI_MT).exists(), INSTALL);
    if !zk && !mt {
        return;
    }
    let cluster = ZablabCluster::start("zkcli");
    let (leader, f1, _) = cluster.roles();
    for (addr, label) in [(&f1, "follower"), (&leader, "leader")] {
        if zk {
            zkcli(addr, label);
        }
        if mt {
            cli_mt(addr, label);
        }
    }
}
