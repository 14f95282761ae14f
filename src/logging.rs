//! Log setup: Consul's `-log-level` names mapped onto tracing.

/// Install the global subscriber writing to stderr at `level`.
pub fn init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DISCO_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},openraft=warn,sled=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
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
    let filter = tracing_subscriber::EnvFilter::try_from_env("DISCO_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},openraft=warn,sled=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(SinkWriter(std::sync::Arc::new(sink)))
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
