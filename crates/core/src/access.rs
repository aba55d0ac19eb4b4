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

/// How failed sign-ins slow the next try: none for the first `from - 1` failures in a row, then
/// `first_wait` seconds after the `from`-th, doubling with each further failure up to `cap`. A
/// count is forgotten once `forget` seconds pass without a failure. A slowed caller is never shut
/// out: after the wait they may try again, so no one can lock an operator out for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The failure in a row that starts the waiting.
    pub from: u32,
    /// The first wait, in seconds.
    pub first_wait: i64,
    /// The longest wait, in seconds.
    pub cap: i64,
    /// Seconds without a failure after which the count starts again.
    pub forget: i64,
}

impl Backoff {
    /// The wait, in seconds, after `failures` failures in a row.
    pub fn wait_seconds(&self, failures: u32) -> i64 {
        if failures < self.from {
            return 0;
        }
        let doublings = failures - self.from;
        // Past 2^40 the cap has long been reached; the shift must not overflow.
        if doublings >= 40 {
            return self.cap;
        }
        (self.first_wait << doublings).min(self.cap)
    }

    /// The failures still counted at `now`: none once `forget` seconds have passed since the last.
    pub fn counted(&self, failures: u32, last: Timestamp, now: Timestamp) -> u32 {
        if now.unix() - last.unix() >= self.forget {
            0
        } else {
            failures
        }
    }

    /// When the next try may come after `failures` in a row, the last at `last`: `None` when it
    /// may come now.
    pub fn until(&self, failures: u32, last: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let failures = self.counted(failures, last, now);
        let until = Timestamp::from_unix(last.unix() + self.wait_seconds(failures));
        (now < until).then_some(until)
    }
}

/// Failed sign-ins of one user name from one client address: from the fifth in a row, one second
/// doubling to fifteen minutes; forgotten after a day without one (a good sign-in clears them).
pub const PER_NAME: Backoff = Backoff {
    from: 5,
    first_wait: 1,
    cap: 15 * 60,
    forget: 24 * 3600,
};

/// Failed sign-ins from one client address whatever the name, so that an address guessing many
/// names is slowed as one guessing one name is: from the twentieth in a row, one second doubling
/// to fifteen minutes; forgotten after an hour without one, so that the typing slips of a busy
/// practice behind one address do not add up all day.
pub const PER_ADDRESS: Backoff = Backoff {
    from: 20,
    first_wait: 1,
    cap: 15 * 60,
    forget: 3600,
};

/// The client address failures are counted against. An IPv6 client is counted by its /64, the
/// block one subscriber usually holds (RFC 6177), else one machine could take a fresh address for
/// every guess; an IPv4 address carried in IPv6 is the IPv4 address.
pub fn counted_address(addr: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Failures in a row and the last one's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Count {
    failures: u32,
    last: Timestamp,
}

/// Failed sign-ins per (client address, user name) and per client address, held by the server
/// in memory. Bounded: at most `capacity` entries of each kind; when full, forgotten counts are
/// dropped first, then the one whose last failure is oldest.
#[derive(Debug)]
pub struct Throttle {
    names: std::collections::HashMap<(std::net::IpAddr, String), Count>,
    addresses: std::collections::HashMap<std::net::IpAddr, Count>,
    capacity: usize,
}

/// Why a try must wait, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slowed {
    /// Too many failures for this user name from this address.
    Name(Timestamp),
    /// Too many failures from this address across user names.
    Address(Timestamp),
}

impl Slowed {
    /// The moment the next try may come.
    pub fn until(self) -> Timestamp {
        match self {
            Slowed::Name(t) | Slowed::Address(t) => t,
        }
    }
}

/// The form a typed user name is counted under: trimmed, lower case, at most 64 characters (the
/// longest user name), so that what an attacker types cannot grow the table's entries.
fn counted_name(name: &str) -> String {
    name.trim().to_lowercase().chars().take(64).collect()
}

impl Throttle {
    /// An empty table keeping at most `capacity` entries of each kind (at least one).
    pub fn new(capacity: usize) -> Throttle {
        Throttle {
            names: Default::default(),
            addresses: Default::default(),
            capacity: capacity.max(1),
        }
    }

    /// Whether a sign-in as `name` from `addr` must wait at `now`, and until when (the later of
    /// the two waits).
    pub fn check(&self, addr: std::net::IpAddr, name: &str, now: Timestamp) -> Option<Slowed> {
        let addr = counted_address(addr);
        let by_name = self
            .names
            .get(&(addr, counted_name(name)))
            .and_then(|c| PER_NAME.until(c.failures, c.last, now));
        let by_address = self
            .addresses
            .get(&addr)
            .and_then(|c| PER_ADDRESS.until(c.failures, c.last, now));
        match (by_name, by_address) {
            (Some(n), Some(a)) if a > n => Some(Slowed::Address(a)),
            (Some(n), _) => Some(Slowed::Name(n)),
            (None, Some(a)) => Some(Slowed::Address(a)),
            (None, None) => None,
        }
    }

    /// Lets a sign-in as `name` from `addr` go ahead, counting it as a failure until it is known
    /// to be good ([`Throttle::succeeded`]), or says how long it must wait. Counting before the
    /// password is checked is what stops an attacker from sending many guesses at once, all of
    /// them let through before the first is found wrong.
    pub fn attempt(
        &mut self,
        addr: std::net::IpAddr,
        name: &str,
        now: Timestamp,
    ) -> Result<(), Slowed> {
        if let Some(slowed) = self.check(addr, name, now) {
            return Err(slowed);
        }
        let addr = counted_address(addr);
        bump(
            &mut self.names,
            (addr, counted_name(name)),
            PER_NAME,
            now,
            self.capacity,
        );
        bump(&mut self.addresses, addr, PER_ADDRESS, now, self.capacity);
        Ok(())
    }

    /// A sign-in let through by [`Throttle::attempt`] was good: that name's failures from that
    /// address are cleared and the address's count loses the attempt again. The address's
    /// earlier failures stay, so one good sign-in cannot reset the guessing of many names.
    pub fn succeeded(&mut self, addr: std::net::IpAddr, name: &str) {
        let addr = counted_address(addr);
        self.names.remove(&(addr, counted_name(name)));
        if let Some(c) = self.addresses.get_mut(&addr) {
            c.failures = c.failures.saturating_sub(1);
        }
    }

    /// Entries held: (address and name, address).
    pub fn len(&self) -> (usize, usize) {
        (self.names.len(), self.addresses.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.addresses.is_empty()
    }
}

/// Adds a failure to `key`'s count (starting again if it was forgotten), making room first when
/// the table is full.
fn bump<K: std::hash::Hash + Eq + Clone>(
    table: &mut std::collections::HashMap<K, Count>,
    key: K,
    rule: Backoff,
    now: Timestamp,
    capacity: usize,
) {
    if !table.contains_key(&key) && table.len() >= capacity {
        table.retain(|_, c| rule.counted(c.failures, c.last, now) > 0);
        if table.len() >= capacity {
            // Still full of live counts: the oldest goes. Only a flood from very many addresses
            // gets here, and a scan of the table costs far less than the password hash each
            // failure has already cost.
            if let Some(oldest) = table
                .iter()
                .min_by_key(|(_, c)| c.last)
                .map(|(k, _)| k.clone())
            {
                table.remove(&oldest);
            }
        }
    }
    let c = table.entry(key).or_insert(Count {
        failures: 0,
        last: now,
    });
    c.failures = rule.counted(c.failures, c.last, now).saturating_add(1);
    c.last = now;
}

/// An address or a block of addresses (`10.0.0.0/8`, `fd00::/8`): a reverse proxy trusted to
/// say, in `X-Forwarded-For`, which client a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    base: std::net::IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base: std::net::IpAddr = addr.parse().map_err(|_| {
            format!(
                "{s:?} is not an IP address or block — write e.g. \"127.0.0.1\" or \"10.0.0.0/8\""
            )
        })?;
        let base = base.to_canonical();
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "{s:?}: the prefix after / must be a number from 0 to {max}"
                    ))
                }
            },
        };
        Ok(Network { base, prefix })
    }

    /// Whether `addr` is in the block.
    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((base, base_len), (addr, addr_len)) = (bits(self.base), bits(addr.to_canonical()));
        if base_len != addr_len {
            return false;
        }
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0);
        base & mask == addr & mask
    }
}

/// The client a request came from: the connection's peer, unless the peer is a trusted proxy,
/// in which case the nearest address in `X-Forwarded-For` (read from the right, the proxies'
/// end) that is not itself a trusted proxy. Entries left of that one were written by the client
/// and are never believed; an entry that is not an address stops the walk at the proxy.
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: &[&str],
    trusted: &[Network],
) -> std::net::IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |a: std::net::IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = forwarded_for
        .iter()
        .rev()
        .flat_map(|h| h.rsplit(','))
        .map(str::trim);
    let mut client = peer;
    for hop in hops {
        // A hop may carry a port ("192.0.2.1:4711", "[2001:db8::1]:4711").
        let addr = hop
            .parse::<std::net::IpAddr>()
            .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()));
        match addr {
            Ok(a) => {
                client = a.to_canonical();
                if !is_trusted(client) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
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
    /// Failed sign-ins in a row (shown to administrators; the throttle is [`Throttle`]).
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

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + s)
    }

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    /// Guesses an attacker gets in `seconds` by trying again the moment each wait ends, the
    /// `i`-th guess as `name(i)`, resting `rest` seconds after every `burst` guesses (0: never).
    fn guesses(
        addr: &str,
        name: impl Fn(usize) -> String,
        seconds: i64,
        burst: usize,
        rest: i64,
    ) -> usize {
        let mut t = Throttle::new(100_000);
        let (mut now, mut n) = (0, 0);
        while now < seconds {
            match t.check(ip(addr), &name(n), at(now)) {
                Some(w) => now = w.until().unix() - at(0).unix(),
                None => {
                    t.attempt(ip(addr), &name(n), at(now)).unwrap();
                    n += 1;
                    if burst > 0 && n % burst == 0 {
                        now += rest;
                    }
                }
            }
        }
        n
    }

    #[test]
    fn waits_start_at_the_fifth_failure_and_double_to_fifteen_minutes() {
        let waits: Vec<i64> = (1..=16).map(|n| PER_NAME.wait_seconds(n)).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
        );
        assert_eq!(PER_NAME.wait_seconds(u32::MAX), 900, "no overflow");
        assert_eq!(PER_ADDRESS.wait_seconds(19), 0);
        assert_eq!(PER_ADDRESS.wait_seconds(20), 1);
        assert_eq!(PER_NAME.until(5, at(0), at(0)), Some(at(1)));
        assert_eq!(PER_NAME.until(5, at(0), at(1)), None, "waited long enough");
        assert_eq!(PER_NAME.until(4, at(0), at(0)), None);
        assert_eq!(
            PER_NAME.until(30, at(0), at(24 * 3600)),
            None,
            "a day without a failure forgets them"
        );
        assert_eq!(PER_ADDRESS.counted(30, at(0), at(3599)), 30);
        assert_eq!(PER_ADDRESS.counted(30, at(0), at(3600)), 0);
    }

    #[test]
    fn guesses_an_attacker_gets_per_address() {
        let hour = 3600;
        let day = 24 * hour;
        let one = |_| "asha.patel@nhs.net".to_owned();
        let many = |i: usize| format!("user{i}@nhs.net");
        // One name from one address: 5 at once, then 1, 2, 4 … 512 s apart, then every 15 min.
        assert_eq!(guesses("192.0.2.1", one, hour, 0, 0), 17);
        assert_eq!(guesses("192.0.2.1", one, day, 0, 0), 109);
        // Many names from one address: 20 at once, then the address is slowed the same way.
        assert_eq!(guesses("192.0.2.1", many, hour, 0, 0), 32);
        assert_eq!(guesses("192.0.2.1", many, day, 0, 0), 124);
        // Resting an hour after each burst, so that the address's count is forgotten, is the
        // best an attacker can do across names: at most this many a day, about 27 an hour.
        let best = (1..=40)
            .map(|burst| guesses("192.0.2.1", many, day, burst, hour))
            .max()
            .unwrap();
        assert_eq!(best, 648, "27 at a time, an hour apart");
        // From one IPv6 /64 the addresses are one.
        let mut t = Throttle::new(100);
        for i in 0..20 {
            t.attempt(ip(&format!("2001:db8:1:2::{i:x}")), &many(i), at(0))
                .unwrap();
        }
        assert!(t
            .check(ip("2001:db8:1:2:ffff::1"), "x@nhs.net", at(0))
            .is_some());
        assert!(t.check(ip("2001:db8:1:3::1"), "x@nhs.net", at(0)).is_none());
    }

    #[test]
    fn someone_elses_failures_do_not_lock_the_real_user_out() {
        let mut t = Throttle::new(100);
        let name = "Asha.Patel@NHS.net";
        // An attacker at 127.0.0.2 guesses her password for an hour, each guess the moment it
        // is let in.
        let mut now = at(0);
        let mut tries = 0;
        while now < at(3600) {
            match t.attempt(ip("127.0.0.2"), name, now) {
                Ok(()) => tries += 1,
                Err(w) => now = w.until(),
            }
        }
        assert_eq!(tries, 17);
        t.attempt(ip("127.0.0.2"), name, now).unwrap();
        assert_eq!(
            t.check(ip("127.0.0.2"), " asha.patel@nhs.net", now),
            Some(Slowed::Name(Timestamp::from_unix(now.unix() + 900))),
            "the attacker waits fifteen minutes a guess"
        );
        assert_eq!(
            t.check(ip("127.0.0.1"), name, now),
            None,
            "she signs in at once from her own address"
        );
        // Her own slips slow only her, and a good sign-in clears them.
        for _ in 0..5 {
            t.attempt(ip("127.0.0.1"), name, now).unwrap();
        }
        assert_eq!(
            t.attempt(ip("127.0.0.1"), name, now),
            Err(Slowed::Name(Timestamp::from_unix(now.unix() + 1))),
            "a sixth try at once must wait: tries sent together are counted, not raced"
        );
        t.succeeded(ip("127.0.0.1"), name);
        assert_eq!(t.check(ip("127.0.0.1"), name, now), None);
        // Guessing many names from one address slows that address for every name.
        let mut t = Throttle::new(100);
        for i in 0..20 {
            t.attempt(ip("127.0.0.2"), &format!("user{i}@nhs.net"), at(0))
                .unwrap();
        }
        assert_eq!(
            t.check(ip("127.0.0.2"), name, at(0)),
            Some(Slowed::Address(at(1)))
        );
        assert_eq!(t.check(ip("127.0.0.1"), name, at(0)), None);
    }

    #[test]
    fn the_client_address_is_believed_only_from_a_trusted_proxy() {
        let trusted = [
            Network::parse("127.0.0.1").unwrap(),
            Network::parse("10.0.0.0/8").unwrap(),
        ];
        let p = |s| ip(s);
        // No proxy trusted, or the peer is not one: the peer, whatever the header says.
        assert_eq!(
            client_address(p("192.0.2.9"), &["198.51.100.1"], &[]),
            p("192.0.2.9")
        );
        assert_eq!(
            client_address(p("192.0.2.9"), &["198.51.100.1"], &trusted),
            p("192.0.2.9")
        );
        // From a trusted proxy: the nearest untrusted hop; what the client wrote is ignored.
        assert_eq!(
            client_address(p("127.0.0.1"), &["6.6.6.6, 198.51.100.1"], &trusted),
            p("198.51.100.1")
        );
        assert_eq!(
            client_address(
                p("127.0.0.1"),
                &["6.6.6.6", "198.51.100.1, 10.1.2.3"],
                &trusted
            ),
            p("198.51.100.1"),
            "two proxies, two headers"
        );
        assert_eq!(
            client_address(p("::ffff:127.0.0.1"), &["[2001:db8::7]:4711"], &trusted),
            p("2001:db8::7")
        );
        assert_eq!(
            client_address(p("127.0.0.1"), &["6.6.6.6, junk"], &trusted),
            p("127.0.0.1"),
            "not an address: the proxy itself"
        );
        assert_eq!(
            client_address(p("127.0.0.1"), &[], &trusted),
            p("127.0.0.1")
        );
        assert!(Network::parse("fd00::/8").unwrap().contains(p("fd12::1")));
        assert!(!Network::parse("fd00::/8").unwrap().contains(p("fe80::1")));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains(p("192.0.2.1")));
        assert!(!Network::parse("0.0.0.0/0")
            .unwrap()
            .contains(p("2001:db8::1")));
        assert!(Network::parse("10.0.0.0/33")
            .unwrap_err()
            .contains("0 to 32"));
        assert!(Network::parse("localhost")
            .unwrap_err()
            .contains("not an IP address"));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = Throttle::new(3);
        for i in 0..10 {
            t.attempt(ip(&format!("192.0.2.{i}")), &"x".repeat(1000), at(i))
                .unwrap();
        }
        assert_eq!(t.len(), (3, 3));
        // The newest stay: the oldest were dropped to make room.
        assert!(t
            .names
            .keys()
            .all(|(a, n)| *a >= ip("192.0.2.7") && n.len() == 64));
        // Forgotten counts go first.
        let mut t = Throttle::new(2);
        t.attempt(ip("192.0.2.1"), "a", at(0)).unwrap();
        t.attempt(ip("192.0.2.2"), "b", at(90_000)).unwrap();
        t.attempt(ip("192.0.2.3"), "c", at(90_001)).unwrap();
        assert!(t.addresses.contains_key(&ip("192.0.2.2")));
        assert!(!t.addresses.contains_key(&ip("192.0.2.1")));
    }
}
