//! Test certificates: a CA, a server certificate for localhost and 127.0.0.1, a client
//! certificate from the same CA, and one from an unrelated CA.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
    pub rogue_client_cert: String,
    pub rogue_client_key: String,
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(names: &[&str], issuer: &CertifiedIssuer<'static, KeyPair>) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

pub fn generate() -> Pki {
    let ca = authority("backup-exporter test CA");
    let rogue = authority("someone else's CA");
    let (server_cert, server_key) = leaf(&["localhost", "127.0.0.1"], &ca);
    let (client_cert, client_key) = leaf(&["scraper.example"], &ca);
    let (rogue_client_cert, rogue_client_key) = leaf(&["scraper.example"], &rogue);
    Pki {
        ca: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
        rogue_client_cert,
        rogue_client_key,
    }
}
