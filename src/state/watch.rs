//! Change notification for blocking queries.
//!
//! One `tokio::sync::watch` channel per table carries the table's index. A blocking query
//! subscribes to the tables it reads *before* running the query, so a change between the
//! read and the wait still wakes it.

use tokio::sync::watch;

use super::store::Table;

/// The senders, owned by the store.
#[derive(Debug)]
pub struct Watches {
    senders: [watch::Sender<u64>; Table::COUNT],
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            senders: std::array::from_fn(|_| watch::channel(0).0),
        }
    }
}

impl Watches {
    /// Publish a table's new index, waking its watchers.
    pub fn notify(&self, table: Table, index: u64) {
        self.senders[table as usize].send_replace(index);
    }

    /// Subscribe to a set of tables.
    pub fn subscribe(&self, tables: &[Table]) -> WatchSet {
        WatchSet {
            receivers: tables
                .iter()
                .map(|t| self.senders[*t as usize].subscribe())
                .collect(),
        }
    }
}

/// Receivers for the tables one query reads.
#[derive(Debug)]
pub struct WatchSet {
    receivers: Vec<watch::Receiver<u64>>,
}

impl WatchSet {
    /// Resolves when any watched table changes after the subscription.
    pub async fn changed(&mut self) {
        if self.receivers.is_empty() {
            return std::future::pending().await;
        }
        let futs = self.receivers.iter_mut().map(|r| Box::pin(r.changed()));
        // A closed channel means the store is gone; treat it as a change so the caller re-reads.
        let _ = futures::future::select_all(futs).await;
    }
}
