//! The Services view: service summaries, and the instances of the one opened with Enter.

use super::{List, Needle, move_within};
use crate::tui::model::{Instance, ServiceRow};

/// One opened service and its instances.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// The service.
    pub name: String,
    /// Its instances, as last followed.
    pub instances: Vec<Instance>,
    /// Selected instance.
    pub cursor: usize,
}

impl Detail {
    /// The instance under the cursor.
    pub fn selected(&self) -> Option<&Instance> {
        self.instances.get(self.cursor)
    }
}

/// The Services view's state.
#[derive(Debug, Clone, Default)]
pub struct ServicesView {
    /// Service summaries and the filter over them.
    pub list: List<ServiceRow>,
    /// The opened service, while its instances are shown.
    pub detail: Option<Detail>,
}

fn matches(f: &Needle, s: &ServiceRow) -> bool {
    if f.is_expression() {
        return f.matches_row(s, &[]);
    }
    f.matches(&[&s.name])
        || s.tags.iter().any(|t| f.matches(&[t]))
        // A filter spanning tags ("a,b") matches their joined list.
        || (f.text().contains(',') && f.matches(&[&s.tags.join(",")]))
}

impl ServicesView {
    /// New summaries from the feed.
    pub fn set_rows(&mut self, rows: Vec<ServiceRow>) {
        self.list.set_rows(rows, matches);
    }

    /// A new filter.
    pub fn set_filter(&mut self, filter: String) {
        self.list.set_filter(filter, matches);
    }

    /// New instances of `name`, kept only if that service is still open.
    pub fn set_instances(&mut self, name: &str, instances: Vec<Instance>) {
        if let Some(d) = &mut self.detail
            && d.name == name
        {
            d.instances = instances;
            d.cursor = d.cursor.min(d.instances.len().saturating_sub(1));
        }
    }

    /// Open the selected service; its name, to follow.
    pub fn open(&mut self) -> Option<String> {
        let name = self.list.selected()?.name.clone();
        self.detail = Some(Detail {
            name: name.clone(),
            ..Detail::default()
        });
        Some(name)
    }

    /// Cursor of the list on screen.
    pub fn cursor(&self) -> usize {
        match &self.detail {
            Some(d) => d.cursor,
            None => self.list.cursor(),
        }
    }

    /// Move the cursor of the list on screen.
    pub fn move_by(&mut self, delta: isize) {
        match &mut self.detail {
            Some(d) => d.cursor = move_within(d.cursor, delta, d.instances.len()),
            None => self.list.move_by(delta),
        }
    }

    /// Put the cursor of the list on screen on row `i`.
    pub fn set_cursor(&mut self, i: usize) {
        match &mut self.detail {
            Some(d) => d.cursor = i.min(d.instances.len().saturating_sub(1)),
            None => self.list.set_cursor(i),
        }
    }
}

impl FromIterator<ServiceRow> for ServicesView {
    /// A view listing these rows, unfiltered (tests and benchmarks fill views this way).
    fn from_iter<I: IntoIterator<Item = ServiceRow>>(rows: I) -> ServicesView {
        let mut v = ServicesView::default();
        v.set_rows(rows.into_iter().collect());
        v
    }
}
