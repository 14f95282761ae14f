//! The Checks view: every check of the cluster, critical first.

use super::{List, Needle};
use crate::tui::model::CheckRow;

/// The Checks view's state (rows arrive only while the view is shown).
#[derive(Debug, Clone, Default)]
pub struct ChecksView {
    /// Checks and the filter over them.
    pub list: List<CheckRow>,
}

fn matches(f: &Needle, c: &CheckRow) -> bool {
    f.matches_row(
        c,
        &[
            &c.node,
            &c.id,
            &c.name,
            &c.status,
            &c.service_name,
            &c.output,
        ],
    )
}

impl ChecksView {
    /// New checks from the feed.
    pub fn set_rows(&mut self, rows: Vec<CheckRow>) {
        self.list.set_rows(rows, matches);
    }

    /// A new filter.
    pub fn set_filter(&mut self, filter: String) {
        self.list.set_filter(filter, matches);
    }
}

impl FromIterator<CheckRow> for ChecksView {
    /// A view listing these rows, unfiltered (tests and benchmarks fill views this way).
    fn from_iter<I: IntoIterator<Item = CheckRow>>(rows: I) -> ChecksView {
        let mut v = ChecksView::default();
        v.set_rows(rows.into_iter().collect());
        v
    }
}
