//! TLS trust for servers the host connects to on plugins' behalf (mail
//! servers): the public roots plus, when the operator names one, the
//! institution's own certificate authority. A leaf: configuration checks
//! the file with it at start-up; the mail host uses it to connect.

/// The certificate authorities a mail server's certificate may chain to:
/// the public ones, and those in `file` (PEM) when the admin named one.
/// The error says what is wrong with the file.
pub fn trusted_roots(
    file: Option<&std::path::Path>,
) -> Result<(tokio_rustls::rustls::RootCertStore, Vec<Vec<u8>>), String> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let Some(file) = file else { return Ok((roots, vec![])) };
    let pem = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM file of certificates: {e}", file.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", file.display()));
    }
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("{}: a certificate is not usable as an authority: {e}", file.display()))?;
    }
    Ok((roots, certs.iter().map(|c| c.to_vec()).collect()))
}
