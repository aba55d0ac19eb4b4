//! A PostgreSQL URL read the way libpq reads it where Cardwatch needs more than the driver
//! knows: `sslmode` with all of libpq's values (the driver knows `disable`, `prefer` and
//! `require` only) and `sslrootcert`, which the driver refuses; plus Cardwatch's own pool
//! settings `pool_max` and `pool_wait`. What is left goes to the driver as written.

use std::error::Error as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use tokio_rustls::rustls::{self, CertificateError};

use super::tls::{read_roots, Check, MakeRustls};
use crate::StoreError;

/// The most connections a store opens unless the URL says otherwise: well under PostgreSQL's
/// default `max_connections` of 100, leaving room for other replicas, `pg_dump` and people.
pub(crate) const DEFAULT_POOL_MAX: usize = 16;
/// How long a caller waits for a connection when all are in use, unless the URL says otherwise.
pub(crate) const DEFAULT_POOL_WAIT: Duration = Duration::from_secs(30);
/// The name the store's connections carry in `pg_stat_activity` unless the URL names another.
pub(crate) const APPLICATION_NAME: &str = "cardwatch";

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, StoreError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries without TLS first; nothing that carries personal data
            // should, so it is refused rather than quietly read as something else.
            other => {
                return Err(StoreError::Url(format!(
                    "sslmode={other} in the database URL is not one Cardwatch knows — use disable, \
                     prefer, require, verify-ca or verify-full (verify-full checks the server is \
                     the one named)"
                )))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where and how to connect.
pub(crate) struct Target {
    driver: tokio_postgres::Config,
    tls: MakeRustls,
    mode: SslMode,
    root: Option<PathBuf>,
    /// The most connections open at once (`pool_max`).
    pub(crate) pool_max: usize,
    /// How long a caller waits for one when all are in use (`pool_wait`, seconds).
    pub(crate) pool_wait: Duration,
    /// The URL for PostgreSQL's own programs (`pg_dump`, `psql`): as given, less Cardwatch's
    /// own settings, which libpq would refuse. It may hold a password: never shown or logged.
    pub(crate) libpq: String,
    /// The URL without its password, for messages.
    pub(crate) shown: String,
}

const UNSUPPORTED: [&str; 6] = [
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
];

fn decoded(key: &str, raw: &str) -> Result<String, StoreError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| {
            StoreError::Url(format!(
                "{key}= in the database URL is not UTF-8 once its %-escapes are decoded"
            ))
        })
}

fn whole(
    key: &str,
    value: &str,
    range: std::ops::RangeInclusive<u64>,
    example: &str,
) -> Result<u64, StoreError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            StoreError::Url(format!(
                "{key}={value} in the database URL: give a whole number from {} to {}, \
                 e.g. {example}",
                range.start(),
                range.end()
            ))
        })
}

impl Target {
    /// Reads a `postgres://` URL. A setting Cardwatch cannot honour is refused, naming it.
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let shown = redact(url);
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut mode = SslMode::Prefer;
        let mut root = None;
        let mut pool_max = DEFAULT_POOL_MAX;
        let mut pool_wait = DEFAULT_POOL_WAIT;
        let mut named = false;
        let mut for_libpq = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decoded(raw_key, raw_key)?;
            match key.as_str() {
                "sslmode" => mode = SslMode::parse(&decoded(&key, raw_value)?)?,
                "sslrootcert" => {
                    let path = decoded(&key, raw_value)?;
                    if path == "system" {
                        return Err(StoreError::Url(
                            "sslrootcert=system is not supported — give the path of the PEM \
                             certificate of the authority that signed the server's certificate"
                                .into(),
                        ));
                    }
                    root = Some(PathBuf::from(path));
                }
                "pool_max" => {
                    pool_max =
                        whole(&key, &decoded(&key, raw_value)?, 2..=1000, "pool_max=16")? as usize;
                    continue;
                }
                "pool_wait" => {
                    pool_wait = Duration::from_secs(whole(
                        &key,
                        &decoded(&key, raw_value)?,
                        1..=3600,
                        "pool_wait=30",
                    )?);
                    continue;
                }
                k if UNSUPPORTED.contains(&k) => {
                    return Err(StoreError::Url(format!(
                        "{k}= in the database URL is not supported: Cardwatch does not send \
                         client certificates or read revocation lists — sign in with a password, \
                         over sslmode=verify-full"
                    )));
                }
                k => {
                    named |= k == "application_name";
                    kept.push(pair);
                }
            }
            for_libpq.push(pair);
        }
        if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && root.is_none() {
            return Err(StoreError::Url(format!(
                "sslmode={} needs sslrootcert=PATH in the database URL: the PEM certificate of \
                 the authority that signed the server's certificate",
                mode.name()
            )));
        }
        // As libpq: with a root certificate given, `prefer` and `require` check the chain too.
        let check = match (mode, &root) {
            (SslMode::Disable, _) => Check::Nothing,
            (SslMode::VerifyFull, _) => Check::ChainAndHost,
            (SslMode::VerifyCa, _) | (_, Some(_)) => Check::Chain,
            _ => Check::Nothing,
        };
        let roots = match &root {
            Some(path) if check != Check::Nothing => {
                Some(read_roots(path).map_err(StoreError::Url)?)
            }
            _ => None,
        };
        let tls = MakeRustls::new(check, roots).map_err(StoreError::Url)?;
        let driver_mode = match mode {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            _ => "require",
        };
        let mut driver_query = kept.join("&");
        for extra in [
            Some(format!("sslmode={driver_mode}")),
            (!named).then(|| format!("application_name={APPLICATION_NAME}")),
        ]
        .into_iter()
        .flatten()
        {
            if !driver_query.is_empty() {
                driver_query.push('&');
            }
            driver_query.push_str(&extra);
        }
        let driver = tokio_postgres::Config::from_str(&format!("{base}?{driver_query}"))
            .map_err(|e| StoreError::Url(format!("the database URL {shown}: {e}")))?;
        let libpq = if for_libpq.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", for_libpq.join("&"))
        };
        Ok(Target {
            driver,
            tls,
            mode,
            root,
            pool_max,
            pool_wait,
            libpq,
            shown,
        })
    }

    /// A connection through the `postgres` client.
    pub(crate) fn client(&self) -> Result<postgres::Client, StoreError> {
        postgres::Config::from(self.driver.clone())
            .connect(self.tls.clone())
            .map_err(|e| self.failed(&e))
    }

    /// The driver's settings, for `tokio-postgres` connections.
    pub(crate) fn driver(&self) -> &tokio_postgres::Config {
        &self.driver
    }

    /// The TLS connector.
    pub(crate) fn tls(&self) -> MakeRustls {
        self.tls.clone()
    }

    /// A failed connection, said with what to do about it.
    pub(crate) fn failed(&self, e: &postgres::Error) -> StoreError {
        // The driver's own words leave out the server's message; it is added.
        let said = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        };
        let hint = self.hint(e);
        StoreError::Database(format!(
            "cannot connect to PostgreSQL at {}: {said} — {hint}",
            self.shown
        ))
    }

    fn hint(&self, e: &postgres::Error) -> String {
        use CertificateError as C;
        let mode = self.mode.name();
        let root = self
            .root
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string());
        if let Some(tls) = rustls_error(e) {
            return match tls {
                rustls::Error::InvalidCertificate(
                    C::NotValidForName | C::NotValidForNameContext { .. },
                ) => format!(
                    "the server's certificate does not name the host in the URL (sslmode={mode} \
                     checks it): connect by a name or address the certificate holds"
                ),
                rustls::Error::InvalidCertificate(
                    C::Expired
                    | C::ExpiredContext { .. }
                    | C::NotValidYet
                    | C::NotValidYetContext { .. },
                ) => "the server's certificate is outside its dates: renew it, or check this \
                      machine's clock"
                    .into(),
                rustls::Error::InvalidCertificate(_) => format!(
                    "the server's certificate is not signed by the authority in \
                     sslrootcert={root}: give the certificate of the authority that signed it"
                ),
                _ => format!("the TLS handshake failed (sslmode={mode})"),
            };
        }
        let text = e.to_string();
        let db = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        if text.contains("server does not support TLS") {
            format!(
                "the server does not offer TLS, which sslmode={mode} requires: turn ssl on in its \
                 postgresql.conf"
            )
        } else if db.contains("no encryption") {
            "the server accepts only encrypted connections from here: set sslmode=verify-full \
             and sslrootcert=PATH in the URL"
                .into()
        } else {
            "check the server is running and the URL".into()
        }
    }
}

/// The TLS error under a connection error, if that is what it was.
fn rustls_error(e: &postgres::Error) -> Option<&rustls::Error> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // tokio-rustls hands TLS errors on inside an io::Error, whose `source` skips them.
        if let Some(tls) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        cause = c.source();
    }
    None
}

/// The URL without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use tokio_postgres::config::SslMode as DriverMode;

    use super::*;

    fn refused(url: &str) -> String {
        match Target::parse(url) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{url} was accepted"),
        }
    }

    #[test]
    fn cardwatch_settings_are_read_and_kept_from_libpq() {
        let t = Target::parse(
            "postgres://cw:secret@db.example:5433/cw?connect_timeout=5&pool_max=40&sslmode=require\
             &pool_wait=7",
        )
        .unwrap();
        assert_eq!(t.pool_max, 40);
        assert_eq!(t.pool_wait, Duration::from_secs(7));
        assert_eq!(
            t.libpq,
            "postgres://cw:secret@db.example:5433/cw?connect_timeout=5&sslmode=require"
        );
        assert_eq!(
            t.shown,
            "postgres://cw:***@db.example:5433/cw?connect_timeout=5&pool_max=40&sslmode=require\
             &pool_wait=7"
        );
        assert_eq!(t.driver.get_ssl_mode(), DriverMode::Require);
        assert_eq!(t.driver.get_application_name(), Some(APPLICATION_NAME));
        let plain = Target::parse("postgres://cw@h/cw?application_name=ours").unwrap();
        assert_eq!(plain.driver.get_ssl_mode(), DriverMode::Prefer);
        assert_eq!(plain.driver.get_application_name(), Some("ours"));
        assert_eq!(plain.pool_max, DEFAULT_POOL_MAX);
    }

    #[test]
    fn settings_cardwatch_cannot_honour_are_refused_by_name() {
        assert!(refused("postgres://h/cw?sslmode=verify-full").contains("needs sslrootcert=PATH"));
        assert!(refused("postgres://h/cw?sslmode=allow").contains("sslmode=allow"));
        assert!(refused("postgres://h/cw?sslcert=c.pem")
            .contains("sslcert= in the database URL is not supported"));
        assert!(refused("postgres://h/cw?pool_max=1").contains("from 2 to 1000"));
        assert!(refused("postgres://h/cw?pool_wait=x").contains("pool_wait=x"));
        assert!(
            refused("postgres://h/cw?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
                .contains("sslrootcert=/nonexistent/ca.pem: No such file")
        );
        assert!(
            refused("postgres://h/cw?sslrootcert=system&sslmode=verify-full")
                .contains("system is not supported")
        );
    }
}
