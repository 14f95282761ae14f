//! Log setup: Consul's `-log-level` names mapped onto tracing.

/// Lines queued for the writer thread at most; past that, new lines are dropped (and
/// counted) rather than stall the thread that logs.
const QUEUE_LINES: usize = 8192;

/// Lines queued and not yet written, for [`flush`].
static UNWRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Lines dropped because the queue was full.
static DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Install the global subscriber writing to stderr at `level`. Lines go through a bounded
/// queue to one writer thread: a stderr pipe that stops draining (a stuck log collector)
/// must not block runtime workers, which would stop the agent as surely as a deadlock.
pub fn init(level: &str) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(QUEUE_LINES);
    let spawned = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let mut dropped_seen = 0;
            for line in rx {
                let mut err = std::io::stderr().lock();
                let dropped = DROPPED.load(Ordering::Relaxed);
                if dropped != dropped_seen {
                    let _ = writeln!(err, "[WARN] {} log lines dropped", dropped - dropped_seen);
                    dropped_seen = dropped;
                }
                let _ = writeln!(err, "{line}");
                UNWRITTEN.fetch_sub(1, Ordering::Release);
            }
        });
    let filter = filter(level);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if spawned.is_err() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_target(false)
            .try_init();
        return;
    }
    let sink = move |line: String| {
        UNWRITTEN.fetch_add(1, Ordering::AcqRel);
        if tx.try_send(line).is_err() {
            UNWRITTEN.fetch_sub(1, Ordering::AcqRel);
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(SinkWriter(std::sync::Arc::new(sink)))
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// Wait (at most `limit`) until every queued log line is written: before the process
/// exits, so its last lines are not lost.
pub fn flush(limit: std::time::Duration) {
    let end = std::time::Instant::now() + limit;
    while UNWRITTEN.load(std::sync::atomic::Ordering::Acquire) > 0
        && std::time::Instant::now() < end
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// The level filter: `DISCO_LOG` when set, else `level` with the noisy crates at warn.
fn filter(level: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("DISCO_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},openraft=warn,sled=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn"
        ))
    })
}

/// Where captured log lines go.
type Sink = std::sync::Arc<dyn Fn(String) + Send + Sync>;

/// One log event's bytes, handed to the sink as one line when the event is written.
struct LineWriter {
    buf: Vec<u8>,
    sink: Sink,
}

impl std::io::Write for LineWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            (self.sink)(line.to_string());
        }
    }
}

struct SinkWriter(Sink);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SinkWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            buf: Vec::with_capacity(128),
            sink: self.0.clone(),
        }
    }
}

/// Install the global subscriber at `level`, handing each formatted line to `sink` instead
/// of writing it (the console shows an embedded agent's log in its own pane).
pub fn init_captured(level: &str, sink: impl Fn(String) + Send + Sync + 'static) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(SinkWriter(std::sync::Arc::new(sink)))
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
