//! TLS configuration (DIALECT 15): the trust roots a client verifies
//! servers against, and the certificate and key a TLS listener serves.
//! The sessions themselves run in `Link`.
//!
//! Invariants:
//! * Certificates are always verified: there is no option to skip it, and
//!   a failure is never followed by plain text.
//! * The trust roots are the system's, or the PEM bundle `SSL_CERT_FILE`
//!   names (read by the runtime, not the script, once per reactor, on the
//!   first TLS connect); a bundle that cannot be read or holds no
//!   certificate fails every TLS connect rather than falling back.
//! * A listener's files are read when it is created, at most
//!   `MAX_PEM_BYTES` each; its error texts never show their contents.
//! * The crypto provider is `ring`, for clients and servers alike.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// The largest certificate or key file a listener reads.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// The reason every TLS connect fails with when `SSL_CERT_FILE` is unusable.
const NO_ROOTS: &str = "no usable trust roots in SSL_CERT_FILE";

/// rustls 0.23.48 deprecates `ring`'s provider for lacking post-quantum key
/// exchange; it is kept because it builds with a C compiler alone (the
/// README's fresh machine), where aws-lc-rs needs more, and its classical
/// key exchange (X25519, P-256, P-384) is what the peers here offer.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The configuration of TLS clients: the trust roots of `SSL_CERT_FILE`
/// if it is set, else the system's; `Err` is the reason connects fail.
pub(crate) fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match std::env::var_os("SSL_CERT_FILE") {
        Some(path) => {
            let certs = read_pem(std::path::Path::new(&path)).map_err(|_| NO_ROOTS.to_string())?;
            let certs = CertificateDer::pem_slice_iter(&certs).filter_map(Result::ok);
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(NO_ROOTS.into());
            }
        }
        None => {
            // Unreadable system bundles are skipped (their errors are
            // reported only if nothing at all was found).
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("no trust roots found on this system".into());
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The configuration of a TLS listener serving the certificate chain in
/// PEM file `cert_file` with the private key in `key_file`; `Err` is the
/// reason (`TLS certificate or key not usable: REASON` to the script).
pub(crate) fn server_config(cert_file: &str, key_file: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = read_pem(std::path::Path::new(cert_file)).map_err(|e| format!("cannot read tls_cert_file: {e}"))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&certs)
        .collect::<Result<_, _>>()
        .map_err(|_| "tls_cert_file is not valid PEM".to_string())?;
    if chain.is_empty() {
        return Err("no certificate in tls_cert_file".into());
    }
    let key = read_pem(std::path::Path::new(key_file)).map_err(|e| format!("cannot read tls_key_file: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => "no private key in tls_key_file".to_string(),
        _ => "tls_key_file is not valid PEM".to_string(),
    })?;
    // Checks that the key is usable and matches the certificate.
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// The bytes of a PEM file of at most `MAX_PEM_BYTES`.
fn read_pem(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(std::io::Error::other(format!("larger than {MAX_PEM_BYTES} bytes")));
    }
    Ok(bytes)
}

impl crate::Net {
    /// A TLS client session over connected `socket`, to `host` (a name or
    /// an address, an IPv6 one possibly bracketed); `Err` is the reason its
    /// handshake fails.
    pub(crate) fn tls_client(
        &self,
        socket: crate::registered::Registered<std::net::TcpStream>,
        host: &str,
    ) -> Result<crate::link::Link, String> {
        let config = self.client_tls.get_or_init(client_config).clone()?;
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let name = rustls::pki_types::ServerName::try_from(bare.to_string()).map_err(|e| e.to_string())?;
        crate::link::Link::client(socket, config, name).map_err(|e| e.to_string())
    }
}
