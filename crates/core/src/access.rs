//! Who may do what, and over which organisations: operators' roles, what each role may do,
//! the organisations an operator's work is scoped to, the rules for user names and passwords,
//! and when sign-in is throttled after failures. Pure: the server asks, this answers.

use std::fmt;

use crate::date::Timestamp;
use crate::ids::OdsCode;

/// An operator's role (SPEC: administrator, support, practice manager, registration authority,
/// auditor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything, every organisation, including users.
    Administrator,
    /// IT support for many organisations: the estate, findings, triage.
    Support,
    /// A practice manager: their own organisation's sites.
    PracticeManager,
    /// Registration Authority staff: cards, renewals, positions.
    RegistrationAuthority,
    /// Read-only, the audit log included.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Role] = &[
        Role::Administrator,
        Role::Support,
        Role::PracticeManager,
        Role::RegistrationAuthority,
        Role::Auditor,
    ];

    /// The text form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Support => "support",
            Role::PracticeManager => "practice_manager",
            Role::RegistrationAuthority => "registration_authority",
            Role::Auditor => "auditor",
        }
    }

    /// The role as operators say it, for pages ("Practice manager"); `as_str` is the code kept
    /// in the store, the API and the command line.
    pub const fn label(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Support => "IT support",
            Role::PracticeManager => "Practice manager",
            Role::RegistrationAuthority => "Registration Authority",
            Role::Auditor => "Auditor",
        }
    }

    /// Parses the text form (any case; `-` or `_` between words).
    pub fn parse(s: &str) -> Result<Role, String> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == t)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a role — use one of: {}",
                    Role::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// Whether the role may do this.
    pub const fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Administrator => true,
            Role::Support => matches!(
                p,
                ViewEstate | ViewPeople | ActOnFindings | Triage | EditEstate
            ),
            Role::PracticeManager => {
                matches!(p, ViewEstate | ViewPeople | ActOnFindings | Triage)
            }
            Role::RegistrationAuthority => matches!(
                p,
                ViewEstate | ViewPeople | ManageCards | ActOnFindings | Triage
            ),
            Role::Auditor => matches!(p, ViewEstate | ViewPeople | ViewAudit),
        }
    }

    /// Whether the role sees every organisation regardless of its list.
    pub const fn sees_everything(self) -> bool {
        matches!(self, Role::Administrator | Role::Auditor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Something an operator may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// See cards, certificates, workstations, readers, findings, the plan.
    ViewEstate,
    /// See people's names and contact details.
    ViewPeople,
    /// Import and edit the estate.
    EditEstate,
    /// Acknowledge, snooze and reopen findings.
    ActOnFindings,
    /// Change card status, manage renewals and positions.
    ManageCards,
    /// Run triage and keep incidents.
    Triage,
    /// Read the audit log.
    ViewAudit,
    /// Add, disable and reset operators.
    ManageUsers,
}

/// The organisations an operator's work covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every organisation.
    All,
    /// These ODS codes: organisations, their sites, or ICBs and everything under them.
    Only(Vec<OdsCode>),
}

impl Scope {
    /// An operator's scope from their role and organisations.
    pub fn of(role: Role, organisations: &[OdsCode]) -> Scope {
        if role.sees_everything() {
            Scope::All
        } else {
            Scope::Only(organisations.to_vec())
        }
    }

    /// Whether a site is covered, given its ODS code, its organisation's and that
    /// organisation's parent's (an ICB), any of which may be listed.
    pub fn covers(&self, site: &str, organisation: &str, parent: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(list) => list.iter().any(|o| {
                let o = o.as_str();
                o == site || o == organisation || parent == Some(o)
            }),
        }
    }
}

/// Why a user name or password was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(pub String);

/// An operator's user name: 3–64 of lower-case letters, digits, `.`, `-`, `_` and `@`
/// (an NHSmail address works).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a user name (kept in lower case).
    pub fn parse(s: &str) -> Result<Username, CredentialError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = (3..=64).contains(&s.len())
            && s.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'-' | b'_' | b'@')
            });
        if ok {
            Ok(Username(s))
        } else {
            Err(CredentialError(format!(
                "{s:?} is not a user name — use 3 to 64 letters, digits, dots, hyphens, underscores or @, e.g. asha.patel@nhs.net"
            )))
        }
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The shortest password accepted: length matters more than mixing character classes (NCSC
/// password guidance), so there is no rule about symbols or digits.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Refuses a password that is too short, too long, or one character repeated.
pub fn check_password(password: &str) -> Result<(), CredentialError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(CredentialError(format!(
            "the password has {n} characters — use at least {MIN_PASSWORD_CHARS}; three random words make a good one"
        )));
    }
    if n > 256 {
        return Err(CredentialError(
            "the password is longer than 256 characters".into(),
        ));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(CredentialError(
            "the password is one character repeated — choose another".into(),
        ));
    }
    Ok(())
}

/// Failed sign-ins allowed before the account waits.
pub const MAX_FAILURES: u32 = 5;
/// How long the account waits after too many failures, in seconds.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;

/// When a user may next try to sign in, given their failures in a row and the last one's time:
/// `None` when they may try now.
pub fn locked_until(
    failures: u32,
    last_failure: Option<Timestamp>,
    now: Timestamp,
) -> Option<Timestamp> {
    let last = last_failure?;
    if failures < MAX_FAILURES {
        return None;
    }
    let until = Timestamp::from_unix(last.unix() + LOCKOUT_SECONDS);
    (now < until).then_some(until)
}

/// A new operator, as an administrator adds them (the password already hashed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// Their user name.
    pub username: Username,
    /// Their name as shown.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// The organisations their work covers.
    pub organisations: Vec<OdsCode>,
    /// The argon2id hash of their password (PHC string).
    pub password_hash: String,
}

/// An operator as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// What they were added with.
    pub user: NewUser,
    /// Disabled operators cannot sign in.
    pub disabled: bool,
    /// Failed sign-ins in a row.
    pub failures: u32,
    /// The last failed sign-in.
    pub last_failure: Option<Timestamp>,
    /// When they were added.
    pub created_at: Timestamp,
}

impl User {
    /// Their scope.
    pub fn scope(&self) -> Scope {
        Scope::of(self.user.role, &self.user.organisations)
    }
}

/// What a token opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// The JSON API, as its operator (`Authorization: Bearer …`).
    Api,
    /// A calendar feed's address, read-only, of the operator's organisations or one site.
    Calendar,
}

impl TokenKind {
    /// The text form.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Api => "api",
            TokenKind::Calendar => "calendar",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Result<TokenKind, String> {
        match s {
            "api" => Ok(TokenKind::Api),
            "calendar" => Ok(TokenKind::Calendar),
            _ => Err(format!("{s:?} is not api or calendar")),
        }
    }
}

/// A token as stored (its secret is never kept, only its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Short public id, for lists and revoking.
    pub id: String,
    /// Whose it is: it acts with their role and organisations.
    pub username: Username,
    /// What it is for, in the operator's words.
    pub name: String,
    /// API or calendar.
    pub kind: TokenKind,
    /// For a calendar: one site only, else all the operator's.
    pub site: Option<OdsCode>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ods(s: &str) -> OdsCode {
        OdsCode::parse(s).unwrap()
    }

    #[test]
    fn roles_parse_and_permit() {
        assert_eq!(
            Role::parse("Practice-Manager").unwrap(),
            Role::PracticeManager
        );
        assert!(Role::parse("king").unwrap_err().contains("administrator"));
        assert!(Role::Administrator.can(Permission::ManageUsers));
        for r in Role::ALL.iter().filter(|r| **r != Role::Administrator) {
            assert!(!r.can(Permission::ManageUsers), "{r}");
        }
        assert!(Role::Auditor.can(Permission::ViewAudit));
        assert!(
            !Role::Auditor.can(Permission::ActOnFindings),
            "auditors only read"
        );
        assert!(!Role::Auditor.can(Permission::Triage));
        assert!(Role::RegistrationAuthority.can(Permission::ManageCards));
        assert!(!Role::PracticeManager.can(Permission::ManageCards));
        assert_eq!(Role::PracticeManager.label(), "Practice manager");
        assert_eq!(
            Role::RegistrationAuthority.label(),
            "Registration Authority"
        );
        assert!(!Role::Support.can(Permission::ViewAudit));
    }

    #[test]
    fn scope_covers_sites_organisations_and_icbs() {
        assert!(Scope::of(Role::Auditor, &[]).covers("A1", "A1", None));
        let pm = Scope::of(Role::PracticeManager, &[ods("A81001")]);
        assert!(pm.covers("A81001", "A81001", Some("QOP")));
        assert!(
            pm.covers("A81001001", "A81001", Some("QOP")),
            "a branch site of the practice"
        );
        assert!(
            !pm.covers("B82002", "B82002", Some("QOP")),
            "another practice in the same ICB"
        );
        let icb = Scope::of(Role::Support, &[ods("QOP")]);
        assert!(icb.covers("B82002", "B82002", Some("QOP")));
        assert!(!icb.covers("C1", "C1", Some("QXX")));
        assert!(!Scope::of(Role::Support, &[]).covers("A81001", "A81001", None));
    }

    #[test]
    fn user_names_and_passwords() {
        assert_eq!(
            Username::parse(" Asha.Patel@NHS.net ").unwrap().as_str(),
            "asha.patel@nhs.net"
        );
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("asha patel").is_err());
        assert!(check_password("correct horse battery").is_ok());
        assert!(check_password("short")
            .unwrap_err()
            .0
            .contains("at least 12"));
        assert!(check_password("aaaaaaaaaaaaaaa").is_err());
        assert!(check_password("elevenchars").is_err(), "11 characters");
        assert!(check_password("twelve chars").is_ok(), "12 characters");
    }

    #[test]
    fn throttling_after_five_failures() {
        let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
        assert_eq!(locked_until(4, Some(t(0)), t(1)), None);
        assert_eq!(locked_until(5, Some(t(0)), t(1)), Some(t(LOCKOUT_SECONDS)));
        assert_eq!(
            locked_until(5, Some(t(0)), t(LOCKOUT_SECONDS)),
            None,
            "waited long enough"
        );
        assert_eq!(locked_until(9, None, t(0)), None);
    }
}
