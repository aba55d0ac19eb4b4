//! What may go into a log line. Logs leave the server for a central store that more people can
//! read than the estate's pages: a line names the route template, counts and the operator, never
//! a holder, their email or their card.

/// `text` with every word that holds an email address (a relay's refusal often quotes the
/// recipient) replaced by `[address]`.
pub(crate) fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(if word.contains('@') {
            "[address]"
        } else {
            word
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_left_out() {
        assert_eq!(
            without_addresses("550 5.1.1 <jo.bloggs@nhs.net>: unknown user"),
            "550 5.1.1 [address] unknown user"
        );
        assert_eq!(
            without_addresses("Connection refused"),
            "Connection refused"
        );
    }
}
