//! What the TLS interop tests add to the shared bounded child processes of
//! `tests/support`: the folder of their scripts, Python peers and expected
//! outputs, rco run there, `python3` (with or without the `websockets`
//! package), and the test certificates, made with `rcgen` in a temporary
//! folder of each test.

#[path = "../support/mod.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

pub use process::{run, Finished, Running};

/// The folder of the scripts and Python peers.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tls_interop")
}

/// The rco binary under test, run in `dir()`, trusting `ca` only (the PEM
/// bundle named by `SSL_CERT_FILE` replaces the system roots, DIALECT 15).
pub fn rco(ca: &str) -> Command {
    let mut cmd = process::rco_in(dir());
    cmd.env("SSL_CERT_FILE", ca);
    cmd
}

/// Whether `python3 -c CODE` runs; the answer is asked once per `slot`.
fn probe(slot: &'static OnceLock<Result<(), String>>, code: &str, missing: &str) -> bool {
    let found = slot.get_or_init(|| {
        let status = Command::new("python3").args(["-c", code]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        match status {
            Err(_) => Err("python3 not found".into()),
            Ok(s) if !s.success() => Err(missing.into()),
            Ok(_) => Ok(()),
        }
    });
    if let Err(why) = found {
        eprintln!("note: {why}; skipping this TLS interop test");
    }
    found.is_ok()
}

fn python_in_dir() -> Command {
    let mut cmd = Command::new("python3");
    cmd.current_dir(dir()).env("PYTHONIOENCODING", "utf-8").env("PYTHONUNBUFFERED", "1");
    cmd
}

/// `python3` with its `ssl` module, or `None` with a note: the test is
/// then skipped.
pub fn python() -> Option<Command> {
    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    probe(&FOUND, "import ssl", "the Python `ssl` module is missing").then(python_in_dir)
}

/// `python3` with `ssl` and the `websockets` package (the asyncio API of
/// websockets >= 13), or `None` with a note: the test is then skipped.
pub fn python_ws() -> Option<Command> {
    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    probe(
        &FOUND,
        "import ssl, websockets.asyncio.client, websockets.asyncio.server",
        "the Python `websockets` package (>= 13) is missing: python3 -m pip install websockets",
    )
    .then(python_in_dir)
}

/// The expected output file `name` of `dir()`.
pub fn expected(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

/// The certificates of one test, in a folder of their own under the
/// system's temporary folder, removed when this is dropped:
///
/// * `ca.pem`: the test CA (what rco and Python trust);
/// * `server.pem`/`server.key`: signed by the CA for `127.0.0.1` and
///   `localhost`;
/// * `wrong.pem`/`wrong.key`: signed by the CA for `wrong.example` only;
/// * `expired.pem`/`expired.key`: signed by the CA for `127.0.0.1` and
///   `localhost`, valid in 2020 only;
/// * `untrusted.pem`/`untrusted.key`: self-signed for `127.0.0.1` and
///   `localhost`, in no trust store;
/// * `empty.pem`: an empty file.
pub struct Certs {
    dir: PathBuf,
}

/// A server certificate's parameters for `names`.
fn leaf(names: &[&str], common_name: &str) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("valid subject alt names");
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

impl Certs {
    /// Makes the certificates for the test `name`.
    pub fn new(name: &str) -> Certs {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("rco-tls-interop-{}-{name}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let certs = Certs { dir };

        let mut ca = CertificateParams::default();
        ca.distinguished_name = DistinguishedName::new();
        ca.distinguished_name.push(DnType::CommonName, "rco tls_interop test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca = CertifiedIssuer::self_signed(ca, ca_key).expect("the CA certificate");
        certs.write("ca.pem", &ca.pem());

        let issue = |name: &str, params: CertificateParams, self_signed: bool| {
            let key = KeyPair::generate().expect("a key");
            let cert = if self_signed { params.self_signed(&key) } else { params.signed_by(&key, &ca) };
            certs.write(&format!("{name}.pem"), &cert.expect("a certificate").pem());
            certs.write(&format!("{name}.key"), &key.serialize_pem());
        };
        issue("server", leaf(&["127.0.0.1", "localhost"], "rco test server"), false);
        issue("wrong", leaf(&["wrong.example"], "wrong.example"), false);
        let mut expired = leaf(&["127.0.0.1", "localhost"], "rco expired server");
        expired.not_before = date_time_ymd(2020, 1, 1);
        expired.not_after = date_time_ymd(2021, 1, 1);
        issue("expired", expired, false);
        issue("untrusted", leaf(&["127.0.0.1", "localhost"], "rco untrusted server"), true);
        certs.write("empty.pem", "");
        certs
    }

    /// Writes `text` to the file `name` of this folder.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    }

    /// The path of the file `name` of this folder (it need not exist).
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().expect("a UTF-8 temporary folder").to_string()
    }

    /// The contents of the file `name` of this folder.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
