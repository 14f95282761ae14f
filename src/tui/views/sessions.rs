//! The Sessions view: sessions with the keys each holds, and the user events this agent
//! received.

use std::collections::BTreeMap;

use super::{List, Needle};
use crate::tui::model::{EventRow, SessionRow};

/// The Sessions view's state.
#[derive(Debug, Clone, Default)]
pub struct SessionsView {
    /// Sessions and the filter over them.
    pub list: List<SessionRow>,
    /// Keys held, by session ID (read while the view is shown).
    pub held: BTreeMap<String, Vec<String>>,
    /// Whether `held` was read at least once.
    pub held_known: bool,
    /// Recent events, newest first.
    pub events: Vec<EventRow>,
}

fn matches(f: &Needle, s: &SessionRow) -> bool {
    f.matches(&[&s.id, &s.name, &s.node, &s.behavior])
}

impl SessionsView {
    /// New sessions from the feed.
    pub fn set_rows(&mut self, rows: Vec<SessionRow>) {
        self.list.set_rows(rows, matches);
    }

    /// A new filter.
    pub fn set_filter(&mut self, filter: String) {
        self.list.set_filter(filter, matches);
    }

    /// The locked keys, as (key, session).
    pub fn set_held(&mut self, keys: Vec<(String, String)>) {
        self.held.clear();
        for (key, session) in keys {
            self.held.entry(session).or_default().push(key);
        }
        self.held_known = true;
    }

    /// The keys `id` holds (empty when none or not read yet).
    pub fn keys_of(&self, id: &str) -> &[String] {
        self.held.get(id).map(Vec::as_slice).unwrap_or_default()
    }

    /// A session's name (its ID when unnamed or unknown), for the KV view's holder.
    pub fn label(&self, id: &str) -> String {
        self.list
            .rows()
            .iter()
            .find(|s| s.id == id && !s.name.is_empty())
            .map(|s| format!("{} ({})", s.name, short(id)))
            .unwrap_or_else(|| id.to_string())
    }
}

/// The first block of a UUID, enough to tell sessions apart on screen.
pub fn short(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

impl FromIterator<SessionRow> for SessionsView {
    /// A view listing these rows, unfiltered (tests fill views this way).
    fn from_iter<I: IntoIterator<Item = SessionRow>>(rows: I) -> SessionsView {
        let mut v = SessionsView::default();
        v.set_rows(rows.into_iter().collect());
        v
    }
}
