//! TLS as ZooKeeper 3.8 configures it, with rustls (ring provider):
//!
//! * the **secure client port** (`secureClientPort`, `secureClientPortAddress`): the same client
//!   protocol and four-letter words as `clientPort`, inside TLS; the server presents
//!   `ssl.keyStore.location` and checks client certificates against `ssl.trustStore.location`
//!   as `ssl.clientAuth` says (`none`, `want`, `need`; ZooKeeper's default is `need`);
//! * **quorum TLS** (`sslQuorum=true`): every connection on the quorum and election ports is
//!   mutual TLS with `ssl.quorum.keyStore.location` / `ssl.quorum.trustStore.location`; the
//!   acceptor asks for a certificate (`ssl.quorum.clientAuth`, default `need`), the dialer checks
//!   the acceptor's certificate against the host of its `server.N` line. A peer without a
//!   certificate from the trusted CA fails the handshake, so not one ZAB byte of it is read.
//!   As in ZooKeeper, any certificate the trust store vouches for may claim any server id.
//!
//! Stores are PEM only (`*.type=PEM`, or no type): a key store is one file holding a PKCS#8
//! private key and its certificate chain, a trust store a file of CA certificates. Their
//! passwords are read and not used (ZabLab reads unencrypted keys; an encrypted one is a clear
//! error at start-up). In `zoo.cfg` each key may also carry ZooKeeper's system-property prefix
//! `zookeeper.` (ZooKeeper turns an unknown zoo.cfg key K into the property `zookeeper.K`).
//!
//! The connection code does not know whether it runs over TLS: accepting and dialing return a
//! stream ([`PeerStream`]) that the client, quorum and election layers read and write as before,
//! with the same byte budgets, timeouts and handshake slots.

pub mod ca;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A PEM store larger than this is refused (a chain of a few certificates is a few KiB).
pub const MAX_STORE_BYTES: usize = 1 << 20;

/// A byte stream a connection layer reads and writes: plain TCP or TLS over TCP.
pub trait PeerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> PeerStream for T {}
/// A stream whose kind (plain or TLS) is decided at run time.
pub type BoxStream = Box<dyn PeerStream>;

/// Writes all of `buf`, then flushes. Over TLS `write_all` may return with encrypted bytes
/// still in the session (the socket was full); only a flush pushes them out, so every write
/// that is followed by waiting for the other side goes through here.
pub async fn write_all_flush<W: AsyncWrite + Unpin>(w: &mut W, buf: &[u8]) -> io::Result<()> {
    w.write_all(buf).await?;
    w.flush().await
}

/// `ssl.clientAuth`: whether the accepting side asks for the other side's certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is asked for.
    None,
    /// Asked for; a connection without one is served, one with an untrusted one is refused.
    Want,
    /// Required (ZooKeeper's default when the key is not set).
    #[default]
    Need,
}

/// One `X509Util` prefix's settings: `ssl.` (client port) or `ssl.quorum.` (quorum ports).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X509Settings {
    pub key_store_location: Option<PathBuf>,
    pub trust_store_location: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

/// The key prefix of the client port's settings.
pub const CLIENT_PREFIX: &str = "ssl.";
/// The key prefix of the quorum ports' settings.
pub const QUORUM_PREFIX: &str = "ssl.quorum.";

/// What [`X509Settings::apply`] made of a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Not one of this prefix's keys.
    NotMine,
    /// Read.
    Set,
    /// Read and not used; the warning says why.
    Unused(String),
}

impl X509Settings {
    /// Applies `key=value` when `key` (without any `zookeeper.` prefix) is one of `prefix`'s
    /// keys. An invalid value is an `Err` with its message.
    pub fn apply(&mut self, prefix: &str, key: &str, value: &str) -> Result<Applied, String> {
        let key = key.strip_prefix("zookeeper.").unwrap_or(key);
        let Some(name) = key.strip_prefix(prefix) else {
            return Ok(Applied::NotMine);
        };
        // `ssl.quorum.x` is not the client port's key `quorum.x`.
        if prefix == CLIENT_PREFIX && name.starts_with("quorum.") {
            return Ok(Applied::NotMine);
        }
        match name {
            "keyStore.location" | "trustStore.location" => {
                if value.is_empty() {
                    return Err("empty path".into());
                }
                let p = Some(PathBuf::from(value));
                if name == "keyStore.location" {
                    self.key_store_location = p;
                } else {
                    self.trust_store_location = p;
                }
                Ok(Applied::Set)
            }
            "keyStore.type" | "trustStore.type" => {
                if value.is_empty() || value.eq_ignore_ascii_case("PEM") {
                    Ok(Applied::Set)
                } else {
                    Err(format!(
                        "`{value}`: ZabLab reads PEM stores only (type PEM)"
                    ))
                }
            }
            "keyStore.password"
            | "keyStore.passwordPath"
            | "trustStore.password"
            | "trustStore.passwordPath" => Ok(Applied::Unused(
                "PEM stores are read unencrypted; the password is not used".into(),
            )),
            "clientAuth" => {
                self.client_auth = match value.to_ascii_lowercase().as_str() {
                    "" | "need" => ClientAuth::Need,
                    "want" => ClientAuth::Want,
                    "none" => ClientAuth::None,
                    _ => return Err(format!("`{value}` is not none, want or need")),
                };
                Ok(Applied::Set)
            }
            _ => Ok(Applied::NotMine),
        }
    }
}

/// Reads a PEM file of at most [`MAX_STORE_BYTES`].
fn read_store(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if meta.len() > MAX_STORE_BYTES as u64 {
        return Err(format!(
            "{what} {}: {} bytes, more than {MAX_STORE_BYTES}",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// A key store: the certificate chain (leaf first) and its private key, from one PEM file.
pub fn load_key_store(
    path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let pem = read_store("key store", path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("key store {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("key store {}: no CERTIFICATE", path.display()));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let encrypted = String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY");
        if encrypted {
            format!(
                "key store {}: the private key is encrypted; ZabLab reads unencrypted PKCS#8 keys",
                path.display()
            )
        } else {
            format!("key store {}: no private key ({e})", path.display())
        }
    })?;
    Ok((chain, key))
}

/// A trust store: every certificate of one PEM file, each a trust anchor.
pub fn load_trust_store(path: &Path) -> Result<RootCertStore, String> {
    let pem = read_store("trust store", path)?;
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| format!("trust store {}: {e}", path.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("trust store {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("trust store {}: no CERTIFICATE", path.display()));
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The accepting side's configuration: our key store, and the trust store when client
/// certificates are asked for.
pub fn server_config(s: &X509Settings, what: &str) -> Result<Arc<ServerConfig>, String> {
    let key_store = s
        .key_store_location
        .as_deref()
        .ok_or_else(|| format!("{what}: no keyStore.location"))?;
    let (chain, key) = load_key_store(key_store)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{what}: {e}"))?;
    let builder = match s.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let trust_store = s
                .trust_store_location
                .as_deref()
                .ok_or_else(|| format!("{what}: clientAuth needs trustStore.location"))?;
            let roots = Arc::new(load_trust_store(trust_store)?);
            let mut v = WebPkiClientVerifier::builder_with_provider(roots, provider());
            if auth == ClientAuth::Want {
                v = v.allow_unauthenticated();
            }
            let v = v.build().map_err(|e| format!("{what}: {e}"))?;
            builder.with_client_cert_verifier(v)
        }
    };
    let cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{what}: key store {}: {e}", key_store.display()))?;
    Ok(Arc::new(cfg))
}

/// The dialing side's configuration (quorum and election ports): trust store for the
/// acceptor's certificate, our key store as the client certificate.
pub fn client_config(s: &X509Settings, what: &str) -> Result<Arc<ClientConfig>, String> {
    let key_store = s
        .key_store_location
        .as_deref()
        .ok_or_else(|| format!("{what}: no keyStore.location"))?;
    let trust_store = s
        .trust_store_location
        .as_deref()
        .ok_or_else(|| format!("{what}: no trustStore.location"))?;
    let (chain, key) = load_key_store(key_store)?;
    let roots = load_trust_store(trust_store)?;
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{what}: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("{what}: key store {}: {e}", key_store.display()))?;
    Ok(Arc::new(cfg))
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// TLS on the quorum and election ports (`sslQuorum=true`): both directions.
#[derive(Clone)]
pub struct QuorumTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl QuorumTls {
    pub fn new(s: &X509Settings) -> Result<QuorumTls, String> {
        Ok(QuorumTls {
            acceptor: TlsAcceptor::from(server_config(s, "sslQuorum")?),
            connector: TlsConnector::from(client_config(s, "sslQuorum")?),
        })
    }
}

fn tls_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

/// The accepted side of a server-to-server connection: TLS when `tls` is given.
pub async fn accept_peer(tls: Option<&QuorumTls>, tcp: TcpStream) -> io::Result<BoxStream> {
    match tls {
        None => Ok(Box::new(tcp)),
        Some(t) => Ok(Box::new(t.acceptor.accept(tcp).await.map_err(tls_err)?)),
    }
}

/// The dialing side of a server-to-server connection to `addr` (`host:port`); with TLS the
/// acceptor's certificate must be valid for `host`.
pub async fn connect_peer(
    tls: Option<&QuorumTls>,
    addr: &str,
    tcp: TcpStream,
) -> io::Result<BoxStream> {
    match tls {
        None => Ok(Box::new(tcp)),
        Some(t) => {
            let name = ServerName::try_from(host_of(addr).to_string()).map_err(tls_err)?;
            Ok(Box::new(
                t.connector.connect(name, tcp).await.map_err(tls_err)?,
            ))
        }
    }
}

/// The secure client port's acceptor (`secureClientPort`).
pub fn client_acceptor(s: &X509Settings) -> Result<TlsAcceptor, String> {
    Ok(TlsAcceptor::from(server_config(s, "secureClientPort")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_with_and_without_the_property_prefix() {
        let mut s = X509Settings::default();
        assert_eq!(
            s.apply(CLIENT_PREFIX, "ssl.keyStore.location", "/k.pem"),
            Ok(Applied::Set)
        );
        assert_eq!(
            s.apply(CLIENT_PREFIX, "zookeeper.ssl.trustStore.location", "/t.pem"),
            Ok(Applied::Set)
        );
        assert_eq!(s.client_auth, ClientAuth::Need, "ZooKeeper's default");
        assert_eq!(
            s.apply(CLIENT_PREFIX, "ssl.clientAuth", "WANT"),
            Ok(Applied::Set)
        );
        assert_eq!(s.client_auth, ClientAuth::Want);
        assert_eq!(
            s.apply(CLIENT_PREFIX, "ssl.quorum.keyStore.location", "/q.pem"),
            Ok(Applied::NotMine),
            "a quorum key is not the client port's"
        );
        assert!(matches!(
            s.apply(CLIENT_PREFIX, "ssl.keyStore.password", "x"),
            Ok(Applied::Unused(_))
        ));
        assert!(s.apply(CLIENT_PREFIX, "ssl.keyStore.type", "JKS").is_err());
        assert!(s.apply(CLIENT_PREFIX, "ssl.clientAuth", "maybe").is_err());
        assert_eq!(s.key_store_location, Some(PathBuf::from("/k.pem")));
        assert_eq!(s.trust_store_location, Some(PathBuf::from("/t.pem")));
        let mut q = X509Settings::default();
        assert_eq!(
            q.apply(QUORUM_PREFIX, "ssl.quorum.keyStore.location", "/q.pem"),
            Ok(Applied::Set)
        );
        assert_eq!(q.key_store_location, Some(PathBuf::from("/q.pem")));
    }

    #[test]
    fn host_of_strips_the_port_and_ipv6_brackets() {
        assert_eq!(host_of("127.0.0.1:2888"), "127.0.0.1");
        assert_eq!(host_of("[::1]:2888"), "::1");
        assert_eq!(host_of("zk1.example:3888"), "zk1.example");
    }

    #[test]
    fn stores_that_are_not_pem_or_hold_no_key_are_refused_with_the_path() {
        let dir = std::env::temp_dir().join(format!("zablab-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, b"not a pem file").expect("write");
        let e = load_trust_store(&junk).unwrap_err();
        assert!(
            e.contains("junk.pem") && e.contains("no CERTIFICATE"),
            "{e}"
        );
        let ca = ca::Authority::new("unit test CA").expect("ca");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).expect("write");
        // A file with a certificate and no key is no key store.
        let e = load_key_store(&ca_path).unwrap_err();
        assert!(e.contains("no private key"), "{e}");
        assert_eq!(load_trust_store(&ca_path).expect("trust store").len(), 1);
        let leaf = ca.issue("unit", &["127.0.0.1"]).expect("leaf");
        let leaf_path = dir.join("leaf.pem");
        std::fs::write(&leaf_path, &leaf).expect("write");
        let (chain, _) = load_key_store(&leaf_path).expect("key store");
        assert_eq!(chain.len(), 1);
        let s = X509Settings {
            key_store_location: Some(leaf_path),
            trust_store_location: Some(ca_path),
            client_auth: ClientAuth::Need,
        };
        assert!(QuorumTls::new(&s).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
