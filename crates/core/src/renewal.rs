//! Where a certificate stands on its way to expiry. A certificate inside its last 90 days can
//! be renewed by its holder; once expired, only a Registration Authority can renew it, in
//! person. The health checks (issue 3) build on these bands.

use crate::date::Date;

/// Days before expiry from which the holder can renew.
pub const RENEWAL_WINDOW_DAYS: i32 = 90;
/// Days before expiry from which renewal is urgent.
pub const URGENT_DAYS: i32 = 30;

/// A certificate's band, as of a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Past its last valid day: an RA must renew it in person.
    Expired,
    /// At most [`URGENT_DAYS`] left.
    Urgent,
    /// Inside the [`RENEWAL_WINDOW_DAYS`]: the holder can renew it.
    Renewable,
    /// Not yet renewable.
    Valid,
}

impl Window {
    /// The band of a certificate whose last valid day is `not_after`, seen on `today`.
    pub fn of(today: Date, not_after: Date) -> Window {
        match today.days_until(not_after) {
            d if d < 0 => Window::Expired,
            d if d <= URGENT_DAYS => Window::Urgent,
            d if d <= RENEWAL_WINDOW_DAYS => Window::Renewable,
            _ => Window::Valid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_meet_at_their_edges() {
        let today = Date::from_ymd(2026, 11, 22).unwrap();
        let band = |days| Window::of(today, today.add_days(days));
        assert_eq!(band(-1), Window::Expired);
        assert_eq!(band(0), Window::Urgent);
        assert_eq!(band(30), Window::Urgent);
        assert_eq!(band(31), Window::Renewable);
        assert_eq!(band(90), Window::Renewable);
        assert_eq!(band(91), Window::Valid);
    }
}
