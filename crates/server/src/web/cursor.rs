//! The lists' cursors (the estate's lists, the agents', the incidents'): a position in a list's
//! order, opaque to callers, which the store reads from by keyset.

use base64::Engine as _;
use cardwatch_store::lists::Position;

use crate::web::{bad_request, BadParam};

/// What a cursor is: `a` (the rows after) or `b` (the rows before) a position, then each of the
/// position's values — the sort column's, then the key's other columns' — as `.` and its UTF-8
/// in URL-safe base64 (the `base64` crate; no padding). Callers treat it as opaque. Any text of
/// [`CURSOR_PATTERN`] is a position (a value that is not UTF-8 is read as best it can be), so
/// the API document's pattern is exactly what is taken; a position grants nothing, as every
/// read is still limited to the caller's sites.
pub(crate) const CURSOR_PATTERN: &str =
    "^[ab](\\.(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?){1,2}$";

/// The cursors' base64: URL-safe without padding, reading the unused bits of a last character
/// whatever they are (so that every text of the pattern decodes).
const CURSOR_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

pub(crate) fn encode(at: Position) -> String {
    let mut out = String::from(if at.before { "b" } else { "a" });
    for v in &at.values {
        out.push('.');
        out.push_str(&CURSOR_BASE64.encode(v.as_bytes()));
    }
    out
}

/// The position a cursor names, with as many values as the list's order has (missing ones
/// empty, which sorts first), or why it is refused.
pub(crate) fn decode(text: &str, width: usize) -> Result<Position, BadParam> {
    let mut at = decode_given(text)?;
    at.values.resize(width, String::new());
    Ok(at)
}

/// The position a cursor names with only the values it holds (one or two), or why it is
/// refused: for a list whose positions differ in how many values they carry (the incidents',
/// whose sort value is left out where it is NULL).
pub(crate) fn decode_given(text: &str) -> Result<Position, BadParam> {
    let at = parse(text)?;
    if at.values.len() > 2 {
        return Err(refused());
    }
    Ok(at)
}

/// `a` or `b`, then any number of `.` and a value in the cursors' base64.
fn parse(text: &str) -> Result<Position, BadParam> {
    let bad = refused;
    let before = match text.get(..1) {
        Some("a") => false,
        Some("b") => true,
        _ => return Err(bad()),
    };
    let rest = text[1..].strip_prefix('.').ok_or_else(bad)?;
    let values = rest
        .split('.')
        .map(|part| {
            let bytes = CURSOR_BASE64.decode(part).map_err(|_| bad())?;
            // No stored text holds a NUL, and PostgreSQL refuses one in a parameter.
            Ok(String::from_utf8_lossy(&bytes).replace('\0', ""))
        })
        .collect::<Result<Vec<String>, BadParam>>()?;
    Ok(Position { before, values })
}

/// What a cursor no list gave is told.
pub(crate) fn refused() -> BadParam {
    bad_request(
        "cursor",
        "this is not a cursor this list gave — leave cursor out to start from the first page, \
         or pass the next_cursor or previous_cursor of the last answer"
            .into(),
    )
}

/// The pattern of a cursor of exactly five values, for a list ordered by more columns than
/// [`CURSOR_PATTERN`]'s two (the access reviews': a holder's site, name and UUID, then where
/// and which role), encoded as [`encode`] encodes any.
pub(crate) const FIVE_VALUE_CURSOR_PATTERN: &str =
    "^[ab](\\.(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?){5}$";

/// The position a cursor of exactly `width` values names, or why it is refused: any text of
/// `^[ab]`, then `width` times `.` and base64 as [`CURSOR_PATTERN`]'s values are (for `width` 5,
/// [`FIVE_VALUE_CURSOR_PATTERN`]).
pub(crate) fn decode_exactly(text: &str, width: usize) -> Result<Position, BadParam> {
    let at = parse(text)?;
    if at.values.len() != width {
        return Err(refused());
    }
    Ok(at)
}
