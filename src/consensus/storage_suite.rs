//! openraft's storage test suite run against disco's log store and state machine: the
//! contract Raft relies on (log reads and purges, vote persistence, membership recovery,
//! snapshot build and install) checked on the real sled-backed code, not on a model.

use std::sync::Arc;

use openraft::StorageError;
use openraft::error::ErrorSource;
use openraft::testing::log::{StoreBuilder, Suite};

use super::{LogStore, StateMachine, TypeConfig};
use crate::state::SharedStore;

/// Fresh, temporary storage for each case of the suite; `durable` as a server runs it
/// (the log in segment files, appends acknowledged from the fsync thread) or as `-dev` does.
struct TempStorage {
    durable: bool,
}

/// Removes a case's log directory when the suite is done with it.
struct RemoveOnDrop(Option<std::path::PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, RemoveOnDrop> for TempStorage {
    async fn build(
        &self,
    ) -> Result<(RemoveOnDrop, LogStore, StateMachine), StorageError<TypeConfig>> {
        let io = |e: sled::Error| StorageError::read(ErrorSource::from_string(e));
        let db = sled::Config::new().temporary(true).open().map_err(io)?;
        let dir = self.durable.then(|| {
            std::env::temp_dir().join(format!(
                "disco-storage-suite-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ))
        });
        let log = LogStore::open(&db, dir.as_deref())
            .map_err(|e| StorageError::read(ErrorSource::from_string(e)))?;
        let store = Arc::new(SharedStore::new());
        let sm = StateMachine::open(&db, store, None).map_err(io)?;
        Ok((RemoveOnDrop(dir), log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_store_and_state_machine_pass_openraft_suite() {
    for durable in [false, true] {
        if let Err(e) = Suite::test_all(TempStorage { durable }).await {
            panic!("openraft storage suite (durable: {durable}): {e}");
        }
    }
}
