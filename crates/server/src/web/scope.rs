//! The one place a request's reach is decided: a [`Viewer`] is the signed-in caller with a
//! permission checked and their organisations resolved to the sites they cover. Handlers get
//! estate data only through a viewer, so a new handler cannot forget the scoping.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::{Permission, Scope};
use cardwatch_core::records::{Cell, Kind};

use crate::web::auth::Caller;
use crate::AppState;

/// A caller allowed one kind of work, and the sites it covers.
#[derive(Debug)]
pub struct Viewer {
    /// Who.
    pub caller: Caller,
    scope: Scope,
    /// Site → (organisation, the organisation's parent), for scoped callers only.
    sites: Arc<SiteMap>,
    /// Each ODS code → the sites it covers, made with the map (scoped callers of a request).
    index: Option<Arc<SiteIndex>>,
    /// The estate's version when the site map was checked (scoped callers), to be reused by
    /// the same request's other caches.
    pub(crate) version: Option<i64>,
}

/// Site → (organisation, the organisation's parent).
pub(crate) type SiteMap = HashMap<String, (String, Option<String>)>;

/// Each site's and organisation's code → its name, for the pages that show sites by name.
pub(crate) type SiteNames = HashMap<String, String>;

/// The site map, its index by ODS code, the names, and the audit chain's length when they were
/// read.
pub(crate) type CachedSites = (i64, Arc<SiteMap>, Arc<SiteIndex>, Arc<SiteNames>);

impl Viewer {
    /// The ODS codes the caller sees — every site of the estate they cover and their own
    /// organisations' codes — for a query to filter by; `None` when they see every site.
    pub fn visible_sites(&self) -> Option<Vec<String>> {
        let Scope::Only(own) = &self.scope else {
            return None;
        };
        // A practice's sites from the index: a pass over the estate's 8,409 sites instead took
        // 29% of the server's processor time serving a practice's people list, on the async
        // threads every request shares.
        let covered: Vec<String> = match &self.index {
            Some(index) => self
                .sites_in(index)
                .unwrap_or_default()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            None => self
                .sites
                .keys()
                .filter(|s| self.sees_site(s))
                .cloned()
                .collect(),
        };
        let mut codes: Vec<String> = covered
            .into_iter()
            .chain(own.iter().map(|o| o.as_str().to_owned()))
            .collect();
        codes.sort();
        codes.dedup();
        Some(codes)
    }

    /// Whether the caller's organisations cover this site (or organisation).
    pub fn sees_site(&self, site: &str) -> bool {
        if self.scope == Scope::All {
            return true;
        }
        match self.sites.get(site) {
            Some((org, parent)) => self.scope.covers(site, org, parent.as_deref()),
            None => self.scope.covers(site, site, None),
        }
    }
}

/// A refusal: JSON for the API, a page otherwise.
pub fn refuse(api: bool, field: Option<&str>, message: &str) -> Response {
    if api {
        let mut error = serde_json::json!({"code": "forbidden", "message": message});
        if let Some(f) = field {
            error["field"] = f.into();
        }
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    let link = Some(("/account", "Your account"));
    (
        StatusCode::FORBIDDEN,
        crate::web::layout::message_page("Not allowed", None, message, link),
    )
        .into_response()
}

/// Something outside the caller's organisations, answered as if it did not exist: JSON for the
/// API, a page otherwise.
pub fn not_found(api: bool, caller: &Caller, message: &str) -> Response {
    if api {
        return crate::web::api_not_found(message);
    }
    (
        StatusCode::NOT_FOUND,
        crate::web::layout::message_page("Not found", Some(caller), message, None),
    )
        .into_response()
}

/// The caller as a viewer for work needing `need`; refused (403) without that permission.
pub async fn viewer(
    state: &AppState,
    caller: Caller,
    need: Permission,
    api: bool,
) -> Result<Viewer, Response> {
    let role = caller.user.user.role;
    if !role.can(need) {
        return Err(refuse(
            api,
            None,
            &format!(
                "a {} cannot do this — ask an administrator",
                role.as_str().replace('_', " ")
            ),
        ));
    }
    Viewer::of(state, caller).await
}

/// The sender of a page's form: allowed `need`, and the form's CSRF token checked.
pub async fn form_viewer(
    state: &AppState,
    caller: Caller,
    need: Permission,
    csrf: &str,
) -> Result<Viewer, Response> {
    let v = viewer(state, caller, need, false).await?;
    v.caller
        .check_csrf(csrf)
        .map_err(IntoResponse::into_response)?;
    Ok(v)
}

impl Viewer {
    /// The caller with their organisations resolved to sites (no permission checked).
    pub(crate) async fn of(state: &AppState, caller: Caller) -> Result<Viewer, Response> {
        let scope = caller.user.scope();
        let (sites, index, version) = match scope {
            Scope::All => (Arc::default(), None, None),
            Scope::Only(_) => {
                let (map, index, _, v) = sites_indexed(state, caller.version).await?;
                (map, Some(index), Some(v))
            }
        };
        Ok(Viewer {
            caller,
            scope,
            sites,
            index,
            version,
        })
    }
}

impl Viewer {
    /// The caller over a site map already read (for work over many callers at once).
    pub(crate) fn with_sites(caller: Caller, sites: Arc<SiteMap>) -> Viewer {
        Viewer {
            scope: caller.user.scope(),
            caller,
            sites,
            index: None,
            version: None,
        }
    }

    /// The sites this viewer may see among those `index` knows, or `None` for every site. A
    /// shortcut over [`Viewer::sees_site`] (which each is still checked against) for callers
    /// who see a few sites of thousands.
    pub(crate) fn sites_in<'a>(&self, index: &'a SiteIndex) -> Option<Vec<&'a str>> {
        let Scope::Only(codes) = &self.scope else {
            return None;
        };
        let mut out: Vec<&str> = codes
            .iter()
            .flat_map(|c| index.0.get(c.as_str()).into_iter().flatten())
            .map(String::as_str)
            .filter(|s| self.sees_site(s))
            .collect();
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

/// Each ODS code → the sites it covers (a site itself, an organisation's sites, an ICB's).
#[derive(Debug, Default)]
pub(crate) struct SiteIndex(HashMap<String, Vec<String>>);

impl SiteIndex {
    /// From the site map and any further site codes (which cover only themselves).
    pub(crate) fn new<'a>(map: &SiteMap, more: impl Iterator<Item = &'a String>) -> SiteIndex {
        let mut index: HashMap<String, Vec<String>> = HashMap::new();
        for (site, (org, parent)) in map {
            for code in [Some(site), Some(org), parent.as_ref()]
                .into_iter()
                .flatten()
            {
                index.entry(code.clone()).or_default().push(site.clone());
            }
        }
        for site in more {
            if !map.contains_key(site) {
                index.entry(site.clone()).or_default().push(site.clone());
            }
        }
        SiteIndex(index)
    }
}

/// The site map, read again only when the audit chain has grown (an import or edit may have
/// moved a site).
pub(crate) async fn sites(state: &AppState) -> Result<(Arc<SiteMap>, i64), Response> {
    let (map, _, _, length) = sites_indexed(state, None).await?;
    Ok((map, length))
}

/// Every site's and organisation's name, read with the site map as of the chain's length
/// `known` (a scoped viewer's, read with their session: no more reads while the estate is
/// unchanged), or of the length read now.
pub(crate) async fn site_names(
    state: &AppState,
    known: Option<i64>,
) -> Result<Arc<SiteNames>, Response> {
    Ok(sites_indexed(state, known).await?.2)
}

/// The site map, its index and the names as of the chain's length `known` (read with the
/// caller's session), or of the length read now.
async fn sites_indexed(
    state: &AppState,
    known: Option<i64>,
) -> Result<(Arc<SiteMap>, Arc<SiteIndex>, Arc<SiteNames>, i64), Response> {
    let length = match known {
        Some(l) => l,
        None => crate::web::version(state).await?,
    };
    let mut cache = state.sites.lock().await;
    if let Some((at, map, index, names)) = cache.as_ref() {
        if *at == length {
            return Ok((map.clone(), index.clone(), names.clone(), length));
        }
    }
    let (map, index, names) = crate::web::blocking(state, |s| {
        let (map, names) = site_map(s)?;
        let index = SiteIndex::new(&map, std::iter::empty());
        Ok((Arc::new(map), Arc::new(index), Arc::new(names)))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    *cache = Some((length, map.clone(), index.clone(), names.clone()));
    Ok((map, index, names, length))
}

/// Whether an operator's organisations cover a site (or organisation), read from the store: for
/// the command line, which acts for an operator outside any request (a calendar feed it makes for
/// them, say) and must refuse what the web would.
pub fn operator_covers_site(
    store: &dyn cardwatch_store::Store,
    user: &cardwatch_core::access::User,
    site: &str,
) -> Result<bool, cardwatch_store::StoreError> {
    let scope = user.scope();
    if scope == Scope::All {
        return Ok(true);
    }
    Ok(match site_map(store)?.0.get(site) {
        Some((org, parent)) => scope.covers(site, org, parent.as_deref()),
        None => scope.covers(site, site, None),
    })
}

/// Every site's organisation and that organisation's parent; and every site's and
/// organisation's name (a site's own where both have the code).
fn site_map(
    store: &dyn cardwatch_store::Store,
) -> Result<(SiteMap, SiteNames), cardwatch_store::StoreError> {
    let text = |c: &Cell<'_>| match c {
        Cell::Text(s) => Some((*s).to_owned()),
        _ => None,
    };
    let mut parents: HashMap<String, Option<String>> = HashMap::new();
    let mut names = HashMap::new();
    store.scan(Kind::Organisations, &[0, 1, 3], false, &mut |row| {
        if let Some(ods) = text(&row[0]) {
            if let Some(name) = text(&row[1]) {
                names.insert(ods.clone(), name);
            }
            parents.insert(ods, text(&row[2]));
        }
        Ok(())
    })?;
    let mut sites = HashMap::new();
    store.scan(Kind::Sites, &[0, 1, 2], false, &mut |row| {
        if let (Some(site), Some(org)) = (text(&row[0]), text(&row[1])) {
            if let Some(name) = text(&row[2]) {
                names.insert(site.clone(), name);
            }
            let parent = parents.get(&org).cloned().flatten();
            sites.insert(site, (org, parent));
        }
        Ok(())
    })?;
    Ok((sites, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cardwatch_core::access::{NewUser, Role, User, Username};
    use cardwatch_core::date::Timestamp;
    use cardwatch_core::ids::OdsCode;

    fn viewer(codes: &[&str], map: &Arc<SiteMap>, indexed: bool) -> Viewer {
        let user = User {
            user: NewUser {
                username: Username::parse("pm.test").unwrap(),
                display_name: "Practice manager".into(),
                role: Role::PracticeManager,
                organisations: codes.iter().map(|c| OdsCode::parse(c).unwrap()).collect(),
                password_hash: String::new(),
            },
            disabled: false,
            failures: 0,
            last_failure: None,
            created_at: Timestamp::from_unix(0),
        };
        let mut v = Viewer::with_sites(Caller::by_token(user), map.clone());
        if indexed {
            v.index = Some(Arc::new(SiteIndex::new(map, std::iter::empty())));
        }
        v
    }

    #[test]
    fn the_sites_a_viewer_sees_from_the_index_are_those_a_pass_over_every_site_finds() {
        let mut map = SiteMap::new();
        // Two practices of one ICB (QOP), a practice with a branch surgery (A10002's Y0001),
        // and a practice with no parent.
        for (site, org, parent) in [
            ("A10000", "A10000", Some("QOP")),
            ("A10001", "A10001", Some("QOP")),
            ("A10002", "A10002", Some("QWE")),
            ("Y00001", "A10002", Some("QWE")),
            ("B20000", "B20000", None),
        ] {
            map.insert(site.into(), (org.into(), parent.map(Into::into)));
        }
        let map = Arc::new(map);
        for codes in [
            &["A10000"][..],
            &["A10002"],
            &["Y00001"],
            &["QOP"],
            &["QWE", "B20000"],
            &["ZZZ99"],
            &["A10000", "QOP"],
        ] {
            let scanned = viewer(codes, &map, false).visible_sites();
            let indexed = viewer(codes, &map, true).visible_sites();
            assert_eq!(indexed, scanned, "{codes:?}");
        }
        let seen = viewer(&["A10002"], &map, true).visible_sites();
        assert_eq!(
            seen,
            Some(vec!["A10002".to_owned(), "Y00001".to_owned()]),
            "a practice sees its branch surgery"
        );
        let seen = viewer(&["ZZZ99"], &map, true).visible_sites();
        assert_eq!(seen, Some(vec!["ZZZ99".to_owned()]), "its own code only");
    }
}
