//! The KV view: one folder of the tree at a time, and a preview of the selected key.

use super::List;
use crate::tui::model::KvItem;

/// A key's value as last read, for the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The key.
    pub key: String,
    /// Its value (`None`: the key is gone).
    pub value: Option<Vec<u8>>,
    /// The session holding it, if it is locked.
    pub holder: Option<String>,
}

/// The KV view's state.
#[derive(Debug, Clone, Default)]
pub struct KvView {
    /// Current folder (`""` is the root; otherwise ends in `/`).
    pub prefix: String,
    /// Its entries and the filter over them.
    pub list: List<KvItem>,
    /// The previewed key.
    pub preview: Option<Preview>,
}

impl KvView {
    /// A new listing of `prefix`, kept only if that is still the folder shown.
    pub fn set_rows(&mut self, prefix: &str, rows: Vec<KvItem>) {
        if prefix == self.prefix {
            let p = self.prefix.clone();
            self.list
                .set_rows(rows, move |f, k: &KvItem| f.matches(&[k.label(&p)]));
        }
    }

    /// A new filter.
    pub fn set_filter(&mut self, filter: String) {
        let p = self.prefix.clone();
        self.list
            .set_filter(filter, move |f, k: &KvItem| f.matches(&[k.label(&p)]));
    }

    /// The selected key's value, if it is the previewed one and readable.
    pub fn selected_value(&self) -> Option<&[u8]> {
        let k = self.list.selected()?;
        match &self.preview {
            Some(Preview {
                key,
                value: Some(v),
                ..
            }) if *key == k.key => Some(v),
            _ => None,
        }
    }

    /// Open folder `prefix`, with nothing listed until its listing arrives.
    pub fn open(&mut self, prefix: String) {
        self.prefix = prefix;
        self.list.reset(Vec::new());
    }

    /// Go up one folder. The folder left is listed alone until the parent's listing
    /// arrives, so the cursor has a row to stand on.
    pub fn up(&mut self) {
        let trimmed = self.prefix.trim_end_matches('/');
        let child = self.prefix.clone();
        self.prefix = match trimmed.rfind('/') {
            Some(i) => trimmed[..=i].to_string(),
            None => String::new(),
        };
        self.list.reset(vec![KvItem { key: child }]);
    }
}
