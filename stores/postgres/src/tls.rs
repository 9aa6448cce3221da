//! Transport security, as libpq's `sslmode` and `sslrootcert` say (which tokio-postgres does
//! not read): `disable` (and no `sslmode`) connects in plain text; `prefer` tries TLS without
//! checking the certificate, and falls back to plain text; `require` insists on TLS without
//! checking the certificate; `verify-ca` checks that a root signed it; `verify-full` checks
//! the host name too. The roots are `sslrootcert`'s (a PEM file) or the system's. The same
//! connector serves the pool and the listener, so every connection of the store is alike.

use std::sync::Arc;

use eventsmith_runtime::store::StoreError;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the store's connections are secured.
#[derive(Clone)]
pub(crate) enum Tls {
    /// Plain text.
    None,
    /// TLS, through this connector.
    Rustls(MakeRustlsConnect),
}

/// A URL without the parameters tokio-postgres does not read, its TLS, and the `sslmode`
/// tokio-postgres is to be told.
pub(crate) struct Secured {
    pub url: String,
    pub tls: Tls,
    pub mode: SslMode,
}

fn refused(reason: String) -> StoreError {
    StoreError::Backend { operation: "set up TLS", retryable: false, source: reason.into() }
}

/// Reads `sslmode` and `sslrootcert` out of a URL.
pub(crate) fn secure(url: &str) -> Result<Secured, StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut mode, mut root) = (None, None);
    for parameter in query.split('&').filter(|parameter| !parameter.is_empty()) {
        match parameter.split_once('=') {
            Some(("sslmode", value)) => mode = Some(value.to_owned()),
            Some(("sslrootcert", value)) => root = Some(value.to_owned()),
            _ => kept.push(parameter),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    let verifier: Arc<dyn ServerCertVerifier> = match mode.as_deref() {
        None | Some("disable") => return Ok(Secured { url, tls: Tls::None, mode: SslMode::Disable }),
        Some("allow" | "prefer" | "require") => Arc::new(Unverified::new()),
        Some(check @ ("verify-ca" | "verify-full")) => {
            let roots = roots(root.as_deref())?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|error| refused(format!("the root certificates: {error}")))?;
            if check == "verify-ca" { Arc::new(AnyName(webpki)) } else { webpki }
        }
        Some(other) => {
            return Err(refused(format!(
                "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| refused(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let mode = if matches!(mode.as_deref(), Some("allow" | "prefer")) { SslMode::Prefer } else { SslMode::Require };
    Ok(Secured { url, tls: Tls::Rustls(MakeRustlsConnect::new(config)), mode })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The roots of `sslrootcert`, or the system's.
fn roots(path: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    match path {
        Some(path) => {
            for certificate in
                CertificateDer::pem_file_iter(path).map_err(|error| refused(format!("sslrootcert={path}: {error}")))?
            {
                let certificate = certificate.map_err(|error| refused(format!("sslrootcert={path}: {error}")))?;
                roots.add(certificate).map_err(|error| refused(format!("sslrootcert={path}: {error}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(refused("no root certificate to verify the server with".to_owned()));
    }
    Ok(roots)
}

/// `require` and `prefer`: any certificate (as libpq without a root certificate), with the
/// handshake's signatures still checked.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl Unverified {
    fn new() -> Self {
        Unverified(provider())
    }
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a root, whatever name the certificate is for.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
