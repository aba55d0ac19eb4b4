//! Whether the estate's card data is recent enough to trust: every certificate rule judges what
//! the last import or agent report said, so a site whose data stopped arriving would show no
//! expiries at all while its cards lapse (hazard H-001).

use super::{Context, Estate, Out, Owner, Severity, SubjectKind};

/// Sites whose card and certificate data has not been refreshed — by an import naming one of
/// their cards or an agent report from one of their workstations — for more than
/// `stale_data_days`.
pub(super) fn stale_data(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    let limit = cx.thresholds.stale_data_days;
    for site in &estate.refreshes {
        // The store gives every site a time when it is created (or when the table was made), so
        // a site without one has never been imported: the site rules' other findings cover it.
        let Some(at) = site.refreshed_at else {
            continue;
        };
        let since = at.date();
        if since.days_until(cx.today) <= limit {
            continue;
        }
        out.push(
            "site-data-stale",
            Severity::Urgent,
            SubjectKind::Site,
            &site.site_ods,
            &site.site_ods,
            Owner::PracticeManager,
            cx.today,
            format!(
                "Cardwatch has not had new card data for {} ({}) since {}: expiries after that \
                 may be missing (limit {limit} days)",
                site.name,
                site.site_ods,
                since.long()
            ),
            "import this month's card and certificate files for the site, or check that the \
             Cardwatch agent on its workstations is running and reporting"
                .into(),
        );
    }
}
