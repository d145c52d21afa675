//! Log output off the request path. The daemon logs a line per request at `info`; writing each
//! to stderr from the async worker that served it cost a herd of redemptions about a tenth of its
//! throughput (one `write` system call per request). Formatted lines are appended to a buffer
//! instead, and a thread of its own writes whatever has gathered with one call, a moment after the
//! first line of a batch arrives.
//!
//! Nothing is lost or reordered: the buffer is written in order, by the thread or by `flush`
//! (called when the daemon stops, and before it aborts on a storage failure); a buffer that grows
//! past `MAX_BUFFERED` (output slower than logging) is written by the thread that appends to it.
//!
//! Under systemd (stderr is the journal's stream: `stderr_is_journal`), text lines start with
//! the kernel-style priority of their level (`<3>` error … `<7>` debug), which journald reads
//! and strips, so `journalctl -p warning` finds the warnings (`Writer::with_priorities`).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// How long the writing thread lets lines gather after the first one of a batch.
const GATHER: Duration = Duration::from_millis(2);
/// Past this, a thread that appends a line writes the buffer itself rather than let it grow.
const MAX_BUFFERED: usize = 1 << 20;

type Output = Box<dyn Write + Send>;

/// Lines waiting to be written, and where they go.
pub struct Sink {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Held while a batch is written, so batches reach the output in the order they were taken.
    out: Mutex<Output>,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    stop: bool,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("logging::Sink")
    }
}

/// The sink `start` made, for `flush` (called by `fail_stop` before it aborts).
static INSTALLED: OnceLock<Arc<Sink>> = OnceLock::new();

impl Sink {
    pub fn new(out: Output) -> Arc<Sink> {
        Arc::new(Sink {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            out: Mutex::new(out),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while a line was appended leaves bytes, not a broken invariant.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut p = self.pending();
        let first = p.buf.is_empty();
        p.buf.extend_from_slice(line);
        let full = p.buf.len() > MAX_BUFFERED;
        drop(p);
        if full {
            self.flush();
        } else if first {
            self.wake.notify_one();
        }
    }

    /// Writes everything appended so far, before returning.
    pub fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = std::mem::take(&mut self.pending().buf);
        if !batch.is_empty() {
            // Nowhere left to report a failure to write the log.
            let _ = out.write_all(&batch);
            let _ = out.flush();
        }
    }

    /// The writing thread's loop: waits for a line, lets others gather, writes them all.
    fn run(&self) {
        loop {
            let mut p = self.pending();
            while p.buf.is_empty() && !p.stop {
                p = self.wake.wait(p).unwrap_or_else(PoisonError::into_inner);
            }
            let stop = p.stop;
            drop(p);
            if !stop {
                std::thread::sleep(GATHER);
            }
            self.flush();
            if stop {
                return;
            }
        }
    }
}

/// What the log formatter writes each event into (the formatter writes an event at once).
#[derive(Debug)]
pub struct Line(Arc<Sink>, Option<&'static [u8]>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.1.take() {
            // One append: another thread's line never comes between the prefix and its line.
            Some(prefix) => self.0.append(&[prefix, buf].concat()),
            None => self.0.append(buf),
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Writer {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(self.sink.clone(), None)
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
        let prefix = self.priorities.then(|| priority(*meta.level()));
        Line(self.sink.clone(), prefix)
    }
}

/// The journal's priority for a level (sd-daemon(3): `<N>` at the start of a line).
fn priority(level: tracing::Level) -> &'static [u8] {
    match level {
        tracing::Level::ERROR => b"<3>",
        tracing::Level::WARN => b"<4>",
        tracing::Level::INFO => b"<6>",
        tracing::Level::DEBUG | tracing::Level::TRACE => b"<7>",
    }
}

/// The formatter's writer: each event it formats is appended to the sink.
#[derive(Debug)]
pub struct Writer {
    sink: Arc<Sink>,
    /// Whether each line starts with its journal priority.
    priorities: bool,
}

impl Writer {
    /// Lines start with their level's journal priority (`<4>` for a warning).
    pub fn with_priorities(mut self) -> Writer {
        self.priorities = true;
        self
    }
}

/// Whether stderr is connected to the journal: systemd sets `JOURNAL_STREAM` to the device and
/// inode of the stream it gave the service; a stderr redirected elsewhere (a file, a pipe)
/// is not it, whatever the environment says.
pub fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

/// Stops the writing thread when dropped, after everything appended has been written.
#[derive(Debug)]
pub struct Guard {
    sink: Arc<Sink>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.sink.pending().stop = true;
        self.sink.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.sink.flush();
    }
}

/// Starts the writing thread for `out`; returns the formatter's writer and the guard that ends it.
pub fn start(out: Output) -> std::io::Result<(Writer, Guard)> {
    let sink = Sink::new(out);
    let runner = sink.clone();
    let thread = std::thread::Builder::new()
        .name("gatepass-log".into())
        .spawn(move || runner.run())?;
    let _ = INSTALLED.set(sink.clone());
    Ok((
        Writer {
            sink: sink.clone(),
            priorities: false,
        },
        Guard {
            sink,
            thread: Some(thread),
        },
    ))
}

/// Writes out whatever the daemon's log holds (before an abort, which runs no destructors).
pub fn flush() {
    if let Some(s) = INSTALLED.get() {
        s.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(s: &Shared) -> String {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn every_line_comes_out_once_in_order_by_the_time_the_guard_is_dropped() {
        let out = Shared::default();
        let (writer, guard) = start(Box::new(out.clone())).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut line = tracing_subscriber::fmt::MakeWriter::make_writer(&writer);
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        line.write_all(format!("t{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let all = text(&out);
        assert_eq!(all.lines().count(), 8_000);
        for t in 0..4 {
            let mine: Vec<usize> = all
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("t{t} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..2_000).collect::<Vec<_>>(), "thread {t}");
        }
    }

    #[test]
    fn flush_writes_what_is_pending_before_it_returns() {
        // No writing thread: only `flush` (or a full buffer) writes.
        let out = Shared::default();
        let sink = Sink::new(Box::new(out.clone()));
        let mut line = Line(sink.clone(), None);
        line.write_all(b"before the abort\n").unwrap();
        assert_eq!(text(&out), "", "written without a flush");
        sink.flush();
        assert_eq!(text(&out), "before the abort\n");
    }

    #[test]
    fn stopping_writes_what_is_pending() {
        let out = Shared::default();
        let sink = Sink::new(Box::new(out.clone()));
        Line(sink.clone(), None).write_all(b"last words\n").unwrap();
        sink.pending().stop = true;
        // The writing thread's loop, told to stop before it began: it writes, then returns.
        sink.run();
        assert_eq!(text(&out), "last words\n");
        Line(sink.clone(), None).write_all(b"after\n").unwrap();
        drop(Guard {
            sink: sink.clone(),
            thread: None,
        });
        assert_eq!(text(&out), "last words\nafter\n");
    }

    #[test]
    fn under_the_journal_each_line_starts_with_its_priority_once() {
        use tracing_subscriber::fmt::MakeWriter;
        let out = Shared::default();
        let sink = Sink::new(Box::new(out.clone()));
        let writer = Writer {
            sink: sink.clone(),
            priorities: true,
        };
        let warn = tracing::Metadata::new(
            "w",
            "t",
            tracing::Level::WARN,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CALLSITE)),
            tracing::metadata::Kind::EVENT,
        );
        let mut line = writer.make_writer_for(&warn);
        line.write_all(b"disk almost full\n").unwrap();
        line.write_all(b"(same event)\n").unwrap();
        sink.flush();
        assert_eq!(text(&out), "<4>disk almost full\n(same event)\n");
    }

    struct NoCallsite;
    static CALLSITE: NoCallsite = NoCallsite;
    impl tracing::callsite::Callsite for NoCallsite {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unreachable!()
        }
    }

    #[test]
    fn a_buffer_past_its_bound_is_written_by_the_logging_thread() {
        let out = Shared::default();
        let sink = Sink::new(Box::new(out.clone()));
        let mut line = Line(sink.clone(), None);
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..(MAX_BUFFERED / chunk.len()) {
            line.write_all(&chunk).unwrap();
        }
        assert_eq!(text(&out).len(), 0);
        line.write_all(b"one more\n").unwrap();
        assert_eq!(text(&out).len(), MAX_BUFFERED + 9);
        assert!(sink.pending().buf.is_empty());
    }
}
