//! Where log lines go and in what form: plain text by default, or one JSON object a line
//! (`[log] format = "json"`) for a central log store. Each line carries the spans it was
//! written in — a request's id, method and route template, or a scheduled job's task — so a
//! request can be followed through the server, the store and the jobs.

use std::io;
use std::path::Path;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain text lines (the default).
    Text,
    /// One JSON object a line.
    Json,
}

impl Format {
    /// The configuration's word for it.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.trim() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!("log.format: {other:?} is not text or json")),
        }
    }
}

/// The format the configuration file asks for. Logging starts before the file is read whole
/// (so that reading it can be logged); a file that cannot be read or parsed here is refused with
/// its line by `config::load` a moment later, and text is used until then.
fn configured(config: Option<&Path>) -> Format {
    config
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| {
            let f = t.get("log")?.get("format")?.as_str()?.to_owned();
            Format::parse(&f).ok()
        })
        .unwrap_or(Format::Text)
}

/// Starts logging to standard error, at the level `RUST_LOG` asks (info by default).
pub fn init(config: Option<&Path>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    match configured(config) {
        Format::Text => fmt.init(),
        Format::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}
