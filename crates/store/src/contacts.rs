//! Sites' own contacts, kept in the store and edited on the administration page (audited), as
//! the configuration's `[[contacts]]` are kept in its file. Written once for both backends.

use cardwatch_core::triage::Contact;

use crate::exec::{with_exec, Entry, Exec};
use crate::{Change, Store, StoreError};

fn read(x: &mut dyn Exec, site: &str) -> Result<Vec<Contact>, StoreError> {
    Ok(x.rows(
        "SELECT site, role, name, phone, email FROM site_contacts WHERE site = $1 \
             ORDER BY role, name",
        &[site.into()],
    )?
    .into_iter()
    .map(|r| Contact {
        serves: vec![r[0].text().to_owned()],
        role: r[1].text().to_owned(),
        name: r[2].text().to_owned(),
        phone: r[3].opt_text().map(str::to_owned),
        email: r[4].opt_text().map(str::to_owned),
    })
    .collect())
}

fn json(c: &Contact) -> String {
    serde_json::json!({"role": c.role, "name": c.name, "phone": c.phone, "email": c.email})
        .to_string()
}

/// A site's contacts, by role and name.
pub fn site_contacts(store: &dyn Store, site: &str) -> Result<Vec<Contact>, StoreError> {
    with_exec(store, |x| read(x, site))
}

/// Adds a contact to a site (audited); one with the same role and name is refused.
pub fn add_site_contact(
    store: &dyn Store,
    site: &str,
    c: &Contact,
    change: &Change,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let added = x.exec(
            "INSERT INTO site_contacts (site, role, name, phone, email, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                site.into(),
                c.role.as_str().into(),
                c.name.as_str().into(),
                c.phone.as_deref().into(),
                c.email.as_deref().into(),
                change.at.unix().into(),
            ],
        )?;
        if added == 0 {
            return Err(StoreError::Invalid(format!(
                "{site} already has {} as {} — remove it first to change it",
                c.name, c.role
            )));
        }
        x.audit(
            change,
            &Entry {
                action: "create",
                kind: "site_contact",
                key: &format!("{site}/{}/{}", c.role, c.name),
                before: None,
                after: Some(json(c)),
            },
        )
    })
}

/// Removes a site's contact (audited).
pub fn remove_site_contact(
    store: &dyn Store,
    site: &str,
    role: &str,
    name: &str,
    change: &Change,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let Some(before) = read(x, site)?
            .into_iter()
            .find(|c| c.role == role && c.name == name)
        else {
            return Err(StoreError::NotFound(format!(
                "{site} has no contact {name} as {role}"
            )));
        };
        x.exec(
            "DELETE FROM site_contacts WHERE site = $1 AND role = $2 AND name = $3",
            &[site.into(), role.into(), name.into()],
        )?;
        x.audit(
            change,
            &Entry {
                action: "delete",
                kind: "site_contact",
                key: &format!("{site}/{role}/{name}"),
                before: Some(json(&before)),
                after: None,
            },
        )
    })
}
