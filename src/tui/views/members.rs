//! The Members view: gossip members, servers first.

use super::{List, Needle};
use crate::tui::model::MemberRow;

/// The Members view's state.
#[derive(Debug, Clone, Default)]
pub struct MembersView {
    /// Members and the filter over them.
    pub list: List<MemberRow>,
}

fn matches(f: &Needle, m: &MemberRow) -> bool {
    f.matches(&[&m.name, &m.address, &m.status, &m.kind])
}

impl MembersView {
    /// New members from the feed.
    pub fn set_rows(&mut self, rows: Vec<MemberRow>) {
        self.list.set_rows(rows, matches);
    }

    /// A new filter.
    pub fn set_filter(&mut self, filter: String) {
        self.list.set_filter(filter, matches);
    }

    /// How many members are servers, for the header.
    pub fn servers(&self) -> usize {
        self.list
            .rows()
            .iter()
            .filter(|m| m.kind == "server")
            .count()
    }

    /// How many members failed, for the header.
    pub fn failed(&self) -> usize {
        self.list
            .rows()
            .iter()
            .filter(|m| m.status == "failed")
            .count()
    }
}

impl FromIterator<MemberRow> for MembersView {
    /// A view listing these rows, unfiltered (tests and benchmarks fill views this way).
    fn from_iter<I: IntoIterator<Item = MemberRow>>(rows: I) -> MembersView {
        let mut v = MembersView::default();
        v.set_rows(rows.into_iter().collect());
        v
    }
}
