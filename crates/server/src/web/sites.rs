//! Sites by name on the pages that list things by site: a practice manager knows "Riverside
//! Surgery", not "A81001". The code stays beside the name, as RAs and support quote it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::web::scope::{site_names, SiteNames, Viewer};
use crate::AppState;

/// Every site's and organisation's name, as cached with the site map for the viewer's version of
/// the estate. A page still shows its codes when the names cannot be read, so a failed read is
/// logged and leaves them empty rather than failing the page.
pub(crate) async fn names(state: &AppState, viewer: &Viewer) -> Arc<SiteNames> {
    names_at(state, viewer.version).await
}

/// [`names`] as of the estate's version `known`, or as it is now (one more read) when the
/// caller has not read it.
pub(crate) async fn names_at(state: &AppState, known: Option<i64>) -> Arc<SiteNames> {
    site_names(state, known).await.unwrap_or_else(|_| {
        tracing::warn!("sites' names not read: shown by code");
        Arc::default()
    })
}

/// One site as a page shows it, its name read as of now: for a record's own page, which shows
/// one site.
pub(crate) async fn named_now(state: &AppState, code: &str) -> String {
    named(code, &*names_at(state, None).await)
}

/// A site as a page shows it: "Riverside Surgery (A81001)", or the code alone when its name is
/// not known.
pub(crate) fn named(code: &str, names: &HashMap<String, String>) -> String {
    match names.get(code) {
        Some(name) => format!("{name} ({code})"),
        None => code.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_reads_as_its_name_with_its_code_or_its_code_alone() {
        let names = HashMap::from([("A81001".to_owned(), "Riverside Surgery".to_owned())]);
        assert_eq!(named("A81001", &names), "Riverside Surgery (A81001)");
        assert_eq!(named("B82002", &names), "B82002");
    }
}
