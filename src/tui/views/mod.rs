//! Each view's own state: its rows, its `/` filter, its cursor, and the filtered index,
//! which is recomputed only when the rows or the filter change, never per frame or per
//! unrelated update.

pub mod checks;
pub mod kv;
pub mod members;
pub mod raft;
pub mod services;
pub mod sessions;

/// A `/` filter, lowercased once per list instead of once per row. Text that parses as
/// a `?filter=` expression (`Status == critical`, `"prod" in Tags`) is also kept parsed,
/// for the views whose rows carry Consul's field names.
pub struct Needle(String, Option<crate::filter::Filter>);

impl Needle {
    /// The filter as typed.
    pub fn new(filter: &str) -> Needle {
        Needle(
            filter.to_lowercase(),
            crate::filter::Filter::parse(filter).ok(),
        )
    }

    /// Whether `row` passes: the expression when the text is one (a row it cannot be
    /// evaluated on does not pass), else a case-insensitive search of `fields`.
    pub fn matches_row<T: serde::Serialize>(&self, row: &T, fields: &[&str]) -> bool {
        match &self.1 {
            Some(expr) => expr.matches(row).unwrap_or(false),
            None => self.matches(fields),
        }
    }

    /// Whether the text is a filter expression.
    pub fn is_expression(&self) -> bool {
        self.1.is_some()
    }

    /// The lowercased filter.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Whether any field contains the filter, ignoring case. ASCII text (nearly all of it)
    /// is compared in place; anything else is lowercased first.
    pub fn matches(&self, fields: &[&str]) -> bool {
        let n = self.0.as_bytes();
        n.is_empty()
            || fields.iter().any(|x| {
                if self.0.is_ascii() && x.is_ascii() {
                    x.len() >= n.len()
                        && x.as_bytes()
                            .windows(n.len())
                            .any(|w| w.eq_ignore_ascii_case(n))
                } else {
                    x.to_lowercase().contains(&self.0)
                }
            })
    }
}

/// Rows with a filter and a cursor over the rows that pass it.
#[derive(Debug, Clone)]
pub struct List<T> {
    rows: Vec<T>,
    filter: String,
    shown: Vec<usize>,
    cursor: usize,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List {
            rows: Vec::new(),
            filter: String::new(),
            shown: Vec::new(),
            cursor: 0,
        }
    }
}

impl<T> List<T> {
    /// Every row, filtered or not (the header counts them all).
    pub fn rows(&self) -> &[T] {
        &self.rows
    }

    /// The filter as typed.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Indices into [`rows`](Self::rows) of the rows that pass the filter, in order.
    pub fn shown(&self) -> &[usize] {
        &self.shown
    }

    /// The `i`-th row that passes the filter.
    pub fn shown_row(&self, i: usize) -> Option<&T> {
        self.shown.get(i).map(|&r| &self.rows[r])
    }

    /// Position of the cursor among the shown rows.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The row under the cursor.
    pub fn selected(&self) -> Option<&T> {
        self.shown_row(self.cursor)
    }

    /// New rows; the cursor stays where it was, within bounds.
    pub fn set_rows(&mut self, rows: Vec<T>, matches: impl Fn(&Needle, &T) -> bool) {
        self.rows = rows;
        self.refilter(matches);
    }

    /// A new filter; the cursor stays within bounds.
    pub fn set_filter(&mut self, filter: String, matches: impl Fn(&Needle, &T) -> bool) {
        if filter != self.filter {
            self.filter = filter;
            self.refilter(matches);
        }
    }

    /// Rows and filter both replaced, cursor on the first row (a new KV folder).
    pub fn reset(&mut self, rows: Vec<T>) {
        self.rows = rows;
        self.filter.clear();
        self.shown = (0..self.rows.len()).collect();
        self.cursor = 0;
    }

    /// Put the cursor on shown row `i` (clamped).
    pub fn set_cursor(&mut self, i: usize) {
        self.cursor = i.min(self.shown.len().saturating_sub(1));
    }

    /// Move the cursor by `delta` rows, clamped to the list.
    pub fn move_by(&mut self, delta: isize) {
        self.cursor = move_within(self.cursor, delta, self.shown.len());
    }

    fn refilter(&mut self, matches: impl Fn(&Needle, &T) -> bool) {
        let n = Needle::new(&self.filter);
        self.shown = (0..self.rows.len())
            .filter(|&i| matches(&n, &self.rows[i]))
            .collect();
        self.set_cursor(self.cursor);
    }
}

/// `cursor` moved by `delta` within a list of `len` rows.
pub fn move_within(cursor: usize, delta: isize, len: usize) -> usize {
    (cursor as isize)
        .saturating_add(delta)
        .clamp(0, len.saturating_sub(1) as isize) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(n: &Needle, s: &&str) -> bool {
        n.matches(&[s])
    }

    #[test]
    fn the_index_follows_rows_and_filter_and_keeps_the_cursor_in_bounds() {
        let mut l = List::default();
        l.set_rows(vec!["api", "db", "web"], contains);
        l.move_by(10);
        assert_eq!(l.selected(), Some(&"web"));
        l.set_filter("B".into(), contains);
        assert_eq!(l.shown(), &[1, 2]);
        assert_eq!(l.cursor(), 1);
        l.set_rows(vec!["db"], contains);
        assert_eq!(l.selected(), Some(&"db"));
        l.move_by(isize::MIN);
        assert_eq!(l.cursor(), 0);
        l.set_rows(Vec::new(), contains);
        assert_eq!(l.selected(), None);
    }

    #[test]
    fn the_filter_box_takes_the_same_expressions_as_the_api() {
        use crate::tui::model::{CheckRow, ServiceRow};
        let svc = |name: &str, tags: &[&str], critical: u64| ServiceRow {
            name: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            instances: 1,
            critical,
            ..ServiceRow::default()
        };
        let mut v = services::ServicesView::default();
        v.set_rows(vec![svc("api", &["prod"], 0), svc("web", &["staging"], 2)]);
        v.set_filter("\"prod\" in Tags".into());
        assert_eq!(v.list.shown(), &[0]);
        v.set_filter("ChecksCritical != 0".into());
        assert_eq!(v.list.shown(), &[1]);
        // Plain text is still a search, and so is text that is not an expression.
        v.set_filter("STAG".into());
        assert_eq!(v.list.shown(), &[1]);
        v.set_filter("NoSuchField == 1".into());
        assert!(
            v.list.shown().is_empty(),
            "an unknown field selects nothing"
        );
        let check = |id: &str, status: &str| CheckRow {
            id: id.into(),
            status: status.into(),
            service_name: "web".into(),
            ..CheckRow::default()
        };
        let mut c = checks::ChecksView::default();
        c.set_rows(vec![check("a", "passing"), check("b", "critical")]);
        c.set_filter("Status == critical and ServiceName == web".into());
        assert_eq!(c.list.shown(), &[1]);
        c.set_filter("critical".into());
        assert_eq!(c.list.shown(), &[1]);
    }
}
