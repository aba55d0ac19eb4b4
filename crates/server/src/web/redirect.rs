//! Where a sign-in or a form's back link may send the browser: only somewhere on this server.

/// Where to send a browser after signing in: `next` resolved against this server's own origin
/// by a URL parser that reads it as browsers do (backslashes as slashes, tabs and newlines
/// dropped, schemes and hosts honoured), kept only when it stays on that origin; anything else
/// is `/`. Never an open redirect.
pub(crate) fn on_this_server(next: &str) -> String {
    let Ok(home) = url::Url::parse("http://cardwatch.invalid/") else {
        return "/".into();
    };
    match home.join(next) {
        // A path that decodes to `//host` or `/\host` is harmless as a path here, but a proxy or
        // a later handler that decodes it once more could make a host of it: home instead.
        Ok(u) if u.origin() == home.origin() && !decodes_to_another_host(u.path()) => {
            match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            }
        }
        _ => "/".into(),
    }
}

fn decodes_to_another_host(path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    decoded.starts_with("//") || decoded.starts_with("/\\")
}

#[cfg(test)]
mod tests {
    use super::on_this_server;

    #[test]
    fn a_sign_in_redirect_stays_on_this_server() {
        for (next, to) in [
            ("/findings?site=A81001", "/findings?site=A81001"),
            ("/cards/CS0001", "/cards/CS0001"),
            ("", "/"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("\\/evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("/\n/evil.example", "/"),
            ("\t//evil.example/", "/"),
            ("https:evil.example", "/"),
            ("https://evil.example/x", "/"),
            ("http://cardwatch.invalid@evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("///evil.example", "/"),
            ("/%2F%2Fevil.example", "/"),
            ("/%2f/evil.example", "/"),
            ("/%5C%5Cevil.example", "/"),
            ("/%5Cevil.example", "/"),
            ("/cards/CS%2F01", "/cards/CS%2F01"),
            ("findings", "/findings"),
        ] {
            assert_eq!(on_this_server(next), to, "{next:?}");
        }
    }
}
