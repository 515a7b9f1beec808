//! A throwaway certificate authority (rcgen) for `zablab cluster --tls` and the TLS tests: one
//! CA certificate, and leaf certificates it signs for servers and clients, each leaf valid for
//! both TLS roles (a server's certificate is also its client certificate when it dials a peer).
//! The CA's private key lives only in memory and is gone when the [`Authority`] is dropped.
//!
//! Files are what ZooKeeper's PEM stores expect: a key store is the leaf's PKCS#8 private key
//! followed by its certificate, in one file; a trust store is the CA certificate.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// A CA that signs leaf certificates.
pub struct Authority {
    cert: Certificate,
    key: KeyPair,
}

fn err(e: rcgen::Error) -> String {
    format!("cannot make a certificate: {e}")
}

impl Authority {
    /// A new self-signed CA named `common_name` (ECDSA P-256).
    pub fn new(common_name: &str) -> Result<Authority, String> {
        let key = KeyPair::generate().map_err(err)?;
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).map_err(err)?;
        Ok(Authority { cert, key })
    }

    /// The CA certificate (a PEM trust store).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf certificate for `common_name`, valid for the host names and IP addresses in
    /// `names`, as a PEM key store: private key, then certificate.
    pub fn issue(&self, common_name: &str, names: &[&str]) -> Result<String, String> {
        let key = KeyPair::generate().map_err(err)?;
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut p = CertificateParams::new(sans).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        p.distinguished_name = dn;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = p.signed_by(&key, &self.cert, &self.key).map_err(err)?;
        Ok(format!("{}{}", key.serialize_pem(), cert.pem()))
    }
}

/// Where [`write_ensemble`] put the files.
#[derive(Clone, Debug)]
pub struct EnsembleCerts {
    /// The CA certificate: every server's and client's trust store.
    pub ca: PathBuf,
    /// Per server id (in the order given): its key store, for both the client and quorum ports.
    pub servers: Vec<(u64, PathBuf)>,
    /// A client's key store (for `ssl.clientAuth=need`).
    pub client: PathBuf,
}

/// The names every certificate of a loopback ensemble is valid for.
pub const LOOPBACK_NAMES: &[&str] = &["127.0.0.1", "localhost", "::1"];

/// Makes a CA and writes `dir/ca.pem`, `dir/server-N.pem` for each of `sids` and
/// `dir/client.pem`, all valid for [`LOOPBACK_NAMES`]. Key stores are written mode 0600.
pub fn write_ensemble(dir: &Path, sids: &[u64], ca_name: &str) -> Result<EnsembleCerts, String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let ca = Authority::new(ca_name)?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).map_err(|e| io(&ca_path, e))?;
    let write_key_store = |name: &str, pem: String| -> Result<PathBuf, String> {
        let p = dir.join(name);
        std::fs::write(&p, pem).map_err(|e| io(&p, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(&p, e))?;
        }
        Ok(p)
    };
    let mut servers = Vec::new();
    for sid in sids {
        let pem = ca.issue(&format!("zablab server {sid}"), LOOPBACK_NAMES)?;
        servers.push((*sid, write_key_store(&format!("server-{sid}.pem"), pem)?));
    }
    let client = write_key_store("client.pem", ca.issue("zablab client", LOOPBACK_NAMES)?)?;
    Ok(EnsembleCerts {
        ca: ca_path,
        servers,
        client,
    })
}
