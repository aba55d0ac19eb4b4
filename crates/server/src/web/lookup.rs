//! The page an address to one record answers when it names something Cardwatch cannot show: a
//! number typed wrong (400) or one not among the caller's organisations (404). Either way the
//! person at the desk gets the NHS.UK error summary in plain words, what they typed kept in a
//! search box over the list the record belongs to, and a link back to that list — never the
//! API's JSON. The API's twins keep their JSON errors.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::web::Caller;

/// Where to look again: the form that finds a record, and the list it belongs to.
pub(crate) struct Lookup {
    /// Where the form goes (a GET), and its box's name and id.
    pub action: &'static str,
    pub field: &'static str,
    /// What its button says.
    pub button: &'static str,
    /// The list to go back to, and what the link says.
    pub list: &'static str,
    pub list_label: &'static str,
    /// The search box's label.
    pub label: &'static str,
    /// What to type, as the hint under the label says it.
    pub hint: &'static str,
}

/// The estate's cards: a card number is on the back of the card.
pub(crate) const CARDS: Lookup = Lookup {
    action: "/cards",
    field: "serial",
    button: "Find the card",
    list: "/estate/people",
    list_label: "Find the card's holder among the people",
    label: "Card number",
    hint: "The number printed on the back of the smartcard, like CS0000000001.",
};

/// The estate's people, found by name or UUID.
pub(crate) const PEOPLE: Lookup = Lookup {
    action: "/estate/people",
    field: "q",
    button: "Search the people",
    list: "/estate/people",
    list_label: "Back to all people",
    label: "Name or UUID",
    hint: "A person's name, or the 12-digit UUID on their smartcard record.",
};

/// The estate's workstations, by the name Windows shows.
pub(crate) const WORKSTATIONS: Lookup = Lookup {
    action: "/estate/workstations",
    field: "q",
    button: "Search the workstations",
    list: "/estate/workstations",
    list_label: "Back to all workstations",
    label: "Computer name",
    hint: "As Windows shows it in Settings, System, About, like a81001-ws01.",
};

/// The estate's integration profiles.
pub(crate) const INTEGRATIONS: Lookup = Lookup {
    action: "/estate/integrations",
    field: "q",
    button: "Search the integrations",
    list: "/estate/integrations",
    list_label: "Back to all integrations",
    label: "Integration or service",
    hint: "The integration's name, like ht1-a81001, or the service it is for.",
};

/// The site a cheat sheet is for, by its ODS code.
pub(crate) const SITES: Lookup = Lookup {
    action: "/cheatsheet",
    field: "site",
    button: "Show the cheat sheet",
    list: "/estate/sites",
    list_label: "Back to all sites",
    label: "Practice or site code (ODS code)",
    hint: "Like A81001. The list of sites shows every site's code.",
};

#[derive(Template)]
#[template(path = "lookup_refused.html")]
struct Refused<'a> {
    /// The box's id and the message, for the error summary.
    problem: Option<(&'a str, &'a str)>,
    message: &'a str,
    typed: &'a str,
    lookup: &'a Lookup,
}

/// The page for a record the address names that cannot be shown: `status` 400 when `typed` is
/// not a valid number of its kind, 404 when it is not among the caller's; `message` says which,
/// in plain words.
pub(crate) fn refused(
    caller: &Caller,
    status: StatusCode,
    title: &str,
    message: &str,
    typed: &str,
    lookup: &Lookup,
) -> Response {
    let body = Refused {
        problem: Some((lookup.field, message)),
        message,
        typed,
        lookup,
    }
    .render()
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    .unwrap_or_default();
    (status, crate::web::layout::page(title, Some(caller), &body)).into_response()
}

#[derive(Template)]
#[template(path = "refused_plain.html")]
struct Plain<'a> {
    message: &'a str,
    back: (&'a str, &'a str),
}

/// A refusal nothing on the page can put right (a link changed or cut short, a record gone): the
/// error summary saying what, in plain words, and a link back to where to start again (`back`:
/// the address and what the link says).
pub(crate) fn plain(
    caller: &Caller,
    status: StatusCode,
    title: &str,
    message: &str,
    back: (&str, &str),
) -> Response {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = Plain { message, back }.render().unwrap_or_default();
    (status, crate::web::layout::page(title, Some(caller), &body)).into_response()
}
