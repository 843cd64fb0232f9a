//! The `tls_server_config` section: certificates, client certificates and how they are
//! checked, protocol versions, cipher suites and curves, as exporter-toolkit reads them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use serde::Deserialize;
use tracing::warn;

/// Why `tls_server_config` cannot be used, naming the field.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("set only one of {0}_file and {0}")]
    BothSet(&'static str),
    #[error("{what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tls_server_config: {0}_file is required")]
    Required(&'static str),
    #[error("tls_server_config: {what}: {source}")]
    Pem {
        what: &'static str,
        source: rustls::pki_types::pem::Error,
    },
    #[error("tls_server_config: cert: no certificate found")]
    NoCertificate,
    #[error("tls_server_config.{field}: {name:?} is not one of TLS12, TLS13")]
    Version { field: &'static str, name: String },
    #[error("tls_server_config: min_version is above max_version")]
    VersionRange,
    #[error("tls_server_config.cipher_suites: {0:?} is not supported")]
    CipherSuite(String),
    #[error(
        "tls_server_config.curve_preferences: {0:?} is not supported (X25519, CurveP256, CurveP384)"
    )]
    Curve(String),
    #[error("tls_server_config: this client_auth_type needs client_ca_file")]
    ClientCaRequired,
    #[error("tls_server_config: client_ca: {0}")]
    ClientCa(rustls::Error),
    #[error(
        "tls_server_config.client_auth_type: {0:?} is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
    )]
    ClientAuthType(String),
    #[error("tls_server_config: {0}")]
    Verifier(rustls::server::VerifierBuilderError),
    #[error("tls_server_config: cert and key: {0}")]
    CertAndKey(rustls::Error),
    #[error("tls_server_config: {0}")]
    Rustls(rustls::Error),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    client_ca: Option<String>,
    #[serde(default)]
    client_allowed_sans: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
}

/// TLS as it applies to new connections.
pub(crate) struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    /// When set, a client certificate must be valid for one of these names.
    pub(crate) allowed_sans: Vec<String>,
    /// Every client must present a certificate (`RequireAnyClientCert`,
    /// `RequireAndVerifyClientCert`).
    pub(super) client_certificate_required: bool,
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// PEM from a file or inline text.
fn pem(
    file: &Option<PathBuf>,
    inline: &Option<String>,
    what: &'static str,
    files: &mut Vec<PathBuf>,
) -> Result<Option<Vec<u8>>, TlsError> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(TlsError::BothSet(what)),
        (Some(path), None) => {
            files.push(path.clone());
            read(path, what).map(Some)
        }
        (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn version(
    name: &str,
    field: &'static str,
) -> Result<&'static rustls::SupportedProtocolVersion, TlsError> {
    match name {
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS12" => Ok(&rustls::version::TLS12),
        // Raising a floor is safe; TLS 1.0 and 1.1 are not offered by this server.
        "TLS10" | "TLS11" if field == "min_version" => {
            warn!(
                "tls_server_config.min_version {name}: TLS 1.0 and 1.1 are not supported; TLS 1.2 is the minimum"
            );
            Ok(&rustls::version::TLS12)
        }
        _ => Err(TlsError::Version {
            field,
            name: name.to_string(),
        }),
    }
}

/// Accepts any client certificate (client_auth_type RequestClientCert and
/// RequireAnyClientCert): the certificate's signature is still checked, its chain is not.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

pub(super) fn tls(raw: &RawTls, http2: bool, files: &mut Vec<PathBuf>) -> Result<Tls, TlsError> {
    let cert = pem(&raw.cert_file, &raw.cert, "cert", files)?.ok_or(TlsError::Required("cert"))?;
    let key = pem(&raw.key_file, &raw.key, "key", files)?.ok_or(TlsError::Required("key"))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Pem {
            what: "cert",
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|source| TlsError::Pem {
        what: "key",
        source,
    })?;
    let provider = Arc::new(crypto_provider(raw)?);
    let versions = protocol_versions(raw)?;
    let client_ca = pem(&raw.client_ca_file, &raw.client_ca, "client_ca", files)?;
    let verifier = client_verifier(raw, client_ca.as_deref(), &provider)?;
    let _ = raw.prefer_server_cipher_suites; // The server's order is always preferred.
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(TlsError::Rustls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(TlsError::CertAndKey)?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Tls {
        config: Arc::new(config),
        allowed_sans: raw.client_allowed_sans.clone(),
        client_certificate_required: matches!(
            raw.client_auth_type.as_deref(),
            Some("RequireAnyClientCert" | "RequireAndVerifyClientCert")
        ),
    })
}

/// ring's provider, narrowed to the configured cipher suites and curves.
fn crypto_provider(raw: &RawTls) -> Result<CryptoProvider, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !raw.cipher_suites.is_empty() {
        // TLS 1.3 suites are not configurable in exporter-toolkit either.
        let mut suites: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for name in &raw.cipher_suites {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|s| s.suite().as_str() == Some(name.as_str()))
                .ok_or_else(|| TlsError::CipherSuite(name.clone()))?;
            suites.push(*suite);
        }
        provider.cipher_suites = suites;
    }
    if !raw.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &raw.curve_preferences {
            let wanted = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                _ => {
                    return Err(TlsError::Curve(name.clone()));
                }
            };
            groups.extend(
                provider
                    .kx_groups
                    .iter()
                    .filter(|g| g.name() == wanted)
                    .copied(),
            );
        }
        provider.kx_groups = groups;
    }
    Ok(provider)
}

/// TLS 1.2 and 1.3, within `min_version` and `max_version`.
fn protocol_versions(
    raw: &RawTls,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
    let min = version(raw.min_version.as_deref().unwrap_or("TLS12"), "min_version")?;
    let max = version(raw.max_version.as_deref().unwrap_or("TLS13"), "max_version")?;
    let versions: Vec<_> = [&rustls::version::TLS12, &rustls::version::TLS13]
        .into_iter()
        .filter(|v| {
            !(v.version == rustls::ProtocolVersion::TLSv1_2
                && min.version == rustls::ProtocolVersion::TLSv1_3)
        })
        .filter(|v| {
            !(v.version == rustls::ProtocolVersion::TLSv1_3
                && max.version == rustls::ProtocolVersion::TLSv1_2)
        })
        .collect();
    if versions.is_empty() {
        return Err(TlsError::VersionRange);
    }
    Ok(versions)
}

/// How client certificates are asked for and checked (`client_auth_type`).
fn client_verifier(
    raw: &RawTls,
    client_ca: Option<&[u8]>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let roots = || -> Result<Arc<RootCertStore>, TlsError> {
        let pem = client_ca.ok_or(TlsError::ClientCaRequired)?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.map_err(|source| TlsError::Pem {
                    what: "client_ca",
                    source,
                })?)
                .map_err(TlsError::ClientCa)?;
        }
        Ok(Arc::new(roots))
    };
    let verified = |allow_unauthenticated: bool| {
        let builder = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
        let builder = if allow_unauthenticated {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder.build().map_err(TlsError::Verifier)
    };
    match raw.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => Ok(WebPkiClientVerifier::no_client_auth()),
        "RequestClientCert" => Ok(Arc::new(AnyClientCert {
            provider: provider.clone(),
            mandatory: false,
        })),
        "RequireAnyClientCert" => Ok(Arc::new(AnyClientCert {
            provider: provider.clone(),
            mandatory: true,
        })),
        "VerifyClientCertIfGiven" => verified(true),
        "RequireAndVerifyClientCert" => verified(false),
        other => Err(TlsError::ClientAuthType(other.to_string())),
    }
}
