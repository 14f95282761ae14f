//! The Raft view: the peers of the Raft configuration.

use super::{List, Needle};
use crate::tui::model::RaftRow;

/// The Raft view's state.
#[derive(Debug, Clone, Default)]
pub struct RaftView {
    /// Peers and the filter over them.
    pub list: List<RaftRow>,
}

fn matches(f: &Needle, r: &RaftRow) -> bool {
    f.matches(&[&r.node, &r.id, &r.address])
}

impl RaftView {
    /// New peers from the feed.
    pub fn set_rows(&mut self, rows: Vec<RaftRow>) {
        self.list.set_rows(rows, matches);
    }

    /// A new filter.
    pub fn set_filter(&mut self, filter: String) {
        self.list.set_filter(filter, matches);
    }

    /// The peer that leads, filtered or not (the header and "trails by" need it).
    pub fn leader(&self) -> Option<&RaftRow> {
        self.list.rows().iter().find(|r| r.leader)
    }
}

impl FromIterator<RaftRow> for RaftView {
    /// A view listing these rows, unfiltered (tests and benchmarks fill views this way).
    fn from_iter<I: IntoIterator<Item = RaftRow>>(rows: I) -> RaftView {
        let mut v = RaftView::default();
        v.set_rows(rows.into_iter().collect());
        v
    }
}
