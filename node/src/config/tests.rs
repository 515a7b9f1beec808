//! zoo.cfg parsing: Apache's keys and defaults, errors that name the key.
use super::*;

const SAMPLE: &str = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zk1\nclientPort=2181\n\
    4lw.commands.whitelist=ruok, mntr\nserver.1=127.0.0.1:2888:3888\n\
    server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\nserver.3=127.0.0.1:2890:3890:observer\n";

#[test]
fn parses_apache_zoo_cfg() {
    let c = NodeConfig::parse(SAMPLE).expect("parses");
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.servers[&3].learner_type, LearnerType::Observer);
    assert_eq!(c.servers[&2].client, Some(("127.0.0.1".to_string(), 2182)));
    assert_eq!(c.four_letter_words, vec!["srvr", "ruok", "mntr"]);
    assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zk1"));
    assert!(c.warnings.is_empty());
    let pc = c.peer_config();
    assert_eq!(pc.ensemble.voter_count(), 2);
    assert!(c.membership_text().ends_with("version=0"));
}

#[test]
fn unknown_key_warns_and_bad_value_names_the_key() {
    let c = NodeConfig::parse(&format!("{SAMPLE}fooBar=1\n")).expect("parses");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("fooBar"));
    let e = NodeConfig::parse(&SAMPLE.replace("tickTime=2000", "tickTime=abc")).unwrap_err();
    assert_eq!(e.key, "tickTime");
    let e = NodeConfig::parse(&SAMPLE.replace("server.1=127.0.0.1:2888:3888", "server.1=h:x:1"))
        .unwrap_err();
    assert_eq!(e.key, "server.1");
    let e = NodeConfig::parse(&SAMPLE.replace(
        "4lw.commands.whitelist=ruok, mntr",
        "4lw.commands.whitelist=nope",
    ))
    .unwrap_err();
    assert_eq!(e.key, "4lw.commands.whitelist");
    let e = NodeConfig::parse("clientPort=1\n").unwrap_err();
    assert_eq!(e.key, "dataDir");
}

/// Found with the zoo_cfg fuzz target (fuzz/regressions/zoo_cfg/ticktime-u64-max): a
/// tickTime past a Java int overflowed `20 * tickTime` (a panic in a debug build, a wrapped
/// session timeout bound in release).
#[test]
fn a_tick_time_beyond_a_java_int_is_refused() {
    for huge in ["18446744073709551615", "2147483648"] {
        let e = NodeConfig::parse(&SAMPLE.replace("tickTime=2000", &format!("tickTime={huge}")))
            .unwrap_err();
        assert_eq!(e.key, "tickTime");
    }
    let c = NodeConfig::parse(&SAMPLE.replace("tickTime=2000", "tickTime=2147483647"))
        .expect("i32::MAX is a valid tickTime");
    assert_eq!(c.max_session_timeout_ms, 20 * i32::MAX as u64);
    let t = c.peer_config().timing;
    assert_eq!(t.init_limit_ms(), i32::MAX as u64 * c.init_limit as u64);
}

#[test]
fn snapshot_size_factor_and_commit_log_count_reach_the_peer() {
    let pc = NodeConfig::parse(SAMPLE).unwrap().peer_config();
    assert_eq!(pc.snapshot_size_factor_percent, Some(33));
    assert_eq!(pc.commit_log_count, 500);
    for (v, want) in [
        ("0.5", Some(50)),
        ("-1", None),
        ("7", Some(33)),
        ("0", Some(0)),
    ] {
        let c = NodeConfig::parse(&format!("{SAMPLE}zookeeper.snapshotSizeFactor={v}\n"));
        assert_eq!(
            c.unwrap().peer_config().snapshot_size_factor_percent,
            want,
            "{v}"
        );
    }
    let c = NodeConfig::parse(&format!("{SAMPLE}commitLogCount=20\n")).unwrap();
    assert_eq!(c.peer_config().commit_log_count, 20);
    for bad in [
        "snapshotSizeFactor=x",
        "snapshotSizeFactor=NaN",
        "commitLogCount=0",
    ] {
        let e = NodeConfig::parse(&format!("{SAMPLE}{bad}\n")).unwrap_err();
        assert_eq!(e.key, bad.split('=').next().unwrap());
    }
}

#[test]
fn super_digest_is_read_in_both_forms_and_checked() {
    let d = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
    for key in [SUPER_DIGEST_KEY, SUPER_DIGEST_PROPERTY] {
        let c = NodeConfig::parse(&format!("{SAMPLE}{key}={d}\n")).expect("parses");
        assert_eq!(c.super_digest.as_deref(), Some(d));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let e = NodeConfig::parse(&format!("{SAMPLE}{key}=super\n")).unwrap_err();
        assert_eq!(e.key, key);
    }
    assert_eq!(
        NodeConfig::parse(SAMPLE).expect("parses").super_digest,
        None
    );
}

#[test]
fn metrics_and_admin_keys_are_read_with_zookeepers_defaults() {
    let c = NodeConfig::parse(SAMPLE).expect("parses");
    assert_eq!(c.metrics_addr, None);
    assert_eq!(c.admin, AdminConfig::default());
    assert!(
        !c.admin.enabled,
        "off unless asked for (several servers share a host)"
    );
    let prom = format!(
        "{SAMPLE}metricsProvider.className={}\n",
        crate::config::PROMETHEUS_PROVIDER_CLASS
    );
    let c = NodeConfig::parse(&prom).expect("parses");
    assert_eq!(c.metrics_addr, Some(("0.0.0.0".to_string(), 7000)));
    let c = NodeConfig::parse(&format!(
        "{prom}metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=7100\n\
         admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=8181\n\
         admin.commandURL=/cmds\nmetricsProvider.exportJvmInfo=false\n"
    ))
    .expect("parses");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.metrics_addr, Some(("127.0.0.1".to_string(), 7100)));
    assert!(!c.metrics_export_process_info);
    assert_eq!(
        c.admin,
        AdminConfig {
            enabled: true,
            address: "127.0.0.1".into(),
            port: 8181,
            command_url: "/cmds".into()
        }
    );
    for (bad, key) in [
        (
            "metricsProvider.className=com.example.Nope",
            "metricsProvider.className",
        ),
        ("admin.enableServer=yes", "admin.enableServer"),
        ("admin.serverPort=0", "admin.serverPort"),
        ("admin.commandURL=commands", "admin.commandURL"),
        ("metricsProvider.httpPort=70000", "metricsProvider.httpPort"),
    ] {
        let e = NodeConfig::parse(&format!("{SAMPLE}{bad}\n")).unwrap_err();
        assert_eq!(e.key, key, "{bad}");
    }
}

#[test]
fn tls_keys_as_zookeeper_names_them() {
    let tls = "secureClientPort=2281\nssl.keyStore.location=/s.pem\nssl.keyStore.type=PEM\n\
        zookeeper.ssl.trustStore.location=/ca.pem\nssl.clientAuth=want\nsslQuorum=true\n\
        ssl.quorum.keyStore.location=/q.pem\nssl.quorum.trustStore.location=/qca.pem\n\
        ssl.quorum.keyStore.password=\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n";
    let c = NodeConfig::parse(&format!("{SAMPLE}{tls}")).expect("parses");
    assert_eq!(c.secure_client_port, 2281);
    assert_eq!(c.secure_client_port_address, "0.0.0.0");
    assert_eq!(c.ssl.key_store_location, Some(PathBuf::from("/s.pem")));
    assert_eq!(c.ssl.trust_store_location, Some(PathBuf::from("/ca.pem")));
    assert_eq!(c.ssl.client_auth, crate::tls::ClientAuth::Want);
    assert!(c.ssl_quorum);
    assert_eq!(
        c.ssl_quorum_settings.key_store_location,
        Some(PathBuf::from("/q.pem"))
    );
    assert_eq!(
        c.ssl_quorum_settings.client_auth,
        crate::tls::ClientAuth::Need
    );
    assert_eq!(c.warnings.len(), 1, "the unused password: {:?}", c.warnings);
    // Missing stores and inconsistent ports name the key.
    let e = NodeConfig::parse(&format!("{SAMPLE}secureClientPort=2281\n")).unwrap_err();
    assert_eq!(e.key, "ssl.keyStore.location");
    let e = NodeConfig::parse(&format!("{SAMPLE}secureClientPortAddress=127.0.0.1\n")).unwrap_err();
    assert_eq!(e.key, "secureClientPortAddress");
    let e = NodeConfig::parse(&format!("{SAMPLE}sslQuorum=true\n")).unwrap_err();
    assert_eq!(e.key, "ssl.quorum.keyStore.location");
    let e = NodeConfig::parse(&format!("{SAMPLE}sslQuorum=yes\n")).unwrap_err();
    assert_eq!(e.key, "sslQuorum");
    let e = NodeConfig::parse(&format!("{SAMPLE}ssl.trustStore.type=JKS\n")).unwrap_err();
    assert_eq!(e.key, "ssl.trustStore.type");
    // Only a secure port is enough.
    let mut c =
        NodeConfig::parse("dataDir=/tmp/x\nsecureClientPort=2281\nssl.keyStore.location=/s.pem\n")
            .expect("parses");
    assert_eq!(c.client_port, 0);
    c.validate()
        .expect("a secure client port alone is a client port");
}

#[test]
fn star_enables_all_words() {
    let c = NodeConfig::parse(&SAMPLE.replace("ruok, mntr", "*")).expect("parses");
    assert!(c.four_letter_words.iter().any(|w| w == "envi"));
}

#[test]
fn readonlymode_enabled_is_read_in_both_forms_and_off_by_default() {
    assert!(!NodeConfig::parse(SAMPLE).expect("parses").read_only_mode);
    for key in ["readonlymode.enabled", "zookeeper.readonlymode.enabled"] {
        let c = NodeConfig::parse(&format!("{SAMPLE}{key}=true\n")).expect("parses");
        assert!(c.read_only_mode, "{key}");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = NodeConfig::parse(&format!("{SAMPLE}{key}=false\n")).expect("parses");
        assert!(!c.read_only_mode, "{key}");
        let e = NodeConfig::parse(&format!("{SAMPLE}{key}=yes\n")).unwrap_err();
        assert_eq!(e.key, key);
    }
    // kazoo's harness sets these next to it: accepted, with a warning saying what ZabLab does.
    let c = NodeConfig::parse(&format!(
        "{SAMPLE}localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n"
    ))
    .expect("parses");
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
}
