//! The membership as replicated data (docs/protocol.md §2.8): ZooKeeper keeps the ensemble's
//! text (`server.N=...` lines and `version=<hex>`) in `/zookeeper/config`, so a reconfig is an
//! ordinary transaction of it and every server, a SNAP'd one too, learns the new members from
//! its tree. This host puts its configured membership there at start (unless the tree holds a
//! newer one, after a reconfig), and when a reconfig is activated here it takes the new text for
//! its notifications and rewrites its dynamic config file, so a restart comes back with it.

use zablab_core::tree::path::CONFIG_PATH;
use zablab_core::zxid::Zxid;

use super::Host;
use crate::codec::machine::NodeMachine;
use crate::config::dynamic;

/// The `version=<hex>` of a membership text.
fn text_version(text: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("version="))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

impl<M: NodeMachine> Host<M> {
    /// The tree's `/zookeeper/config` text, if any.
    fn config_text(&mut self) -> Option<String> {
        let tree = self.peer.machine_mut().tree_mut()?;
        let (data, _) = tree.get_data(&[], CONFIG_PATH).ok()?;
        data.and_then(|d| String::from_utf8(d).ok())
            .filter(|t| !t.is_empty())
    }

    /// At start: `/zookeeper/config` holds the configured membership, unless the recovered
    /// tree already holds a newer version (its reconfig is in the snapshot or the log), which
    /// then is the one this server announces. A standalone server has none, as ZooKeeper's.
    pub(super) fn install_membership(&mut self) {
        let cfg = &self.shared.config;
        if cfg.is_standalone() {
            return;
        }
        let (ours, text) = (cfg.config_version, cfg.membership_text());
        match self.config_text() {
            Some(t) if text_version(&t).is_some_and(|v| v > ours) => self.adopt(&t),
            _ => {
                if let Some(tree) = self.peer.machine_mut().tree_mut() {
                    tree.set_config_text(&text);
                }
            }
        }
    }

    /// A reconfig became active here (`ConfigActivated`): when the tree's text is that
    /// version, it is the membership from now on, and the dynamic config file is rewritten.
    pub(super) fn on_config_activated(&mut self, version: Zxid) {
        let Some(text) = self.config_text() else {
            return;
        };
        if text_version(&text) != Some(version.0) {
            return; // a list heard from a peer, not (yet) in this tree
        }
        self.adopt(&text);
        let myid = self.peer.id();
        let Some(source) = self.shared.config.source.clone() else {
            return;
        };
        if dynamic::file_path(&source, version.0).exists() {
            return;
        }
        match dynamic::parse(&text) {
            Ok(d) => match dynamic::write_after_reconfig(&source, &d.servers, version.0) {
                Ok(file) => eprintln!(
                    "zablab[{myid}]: reconfig 0x{:x} active; membership written to {}",
                    version.0,
                    file.display()
                ),
                Err(e) => eprintln!(
                    "zablab[{myid}]: reconfig 0x{:x} active, but the dynamic file could not be written: {e}",
                    version.0
                ),
            },
            Err(e) => eprintln!("zablab[{myid}]: reconfig 0x{:x}: unreadable config text: {e}", version.0),
        }
    }

    /// Announces `text` (normalised as ZooKeeper prints a QuorumVerifier) from now on.
    fn adopt(&mut self, text: &str) {
        if let Ok(d) = dynamic::parse(text) {
            self.membership = dynamic::format(&d.servers, d.version);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::text_version;

    #[test]
    fn the_version_of_a_membership_text_is_its_last_version_line() {
        assert_eq!(
            text_version("server.1=h:1:2:participant\nversion=100000003"),
            Some(0x1_0000_0003)
        );
        assert_eq!(text_version("server.1=h:1:2:participant"), None);
        assert_eq!(text_version("version=zz"), None);
    }
}
