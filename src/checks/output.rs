//! Output capture: the tail of a script's output, the head of an HTTP body.

/// Keeps the last `cap` bytes written and counts all of them.
#[derive(Debug)]
pub struct TailBuffer {
    cap: usize,
    buf: std::collections::VecDeque<u8>,
    total: u64,
}

impl TailBuffer {
    /// An empty buffer keeping at most `cap` bytes.
    pub fn new(cap: usize) -> TailBuffer {
        TailBuffer {
            cap,
            buf: std::collections::VecDeque::with_capacity(cap.min(64 * 1024)),
            total: 0,
        }
    }

    /// Append bytes, dropping the oldest beyond the cap.
    pub fn write(&mut self, b: &[u8]) {
        self.total += b.len() as u64;
        let b = if b.len() > self.cap {
            &b[b.len() - self.cap..]
        } else {
            b
        };
        let over = (self.buf.len() + b.len()).saturating_sub(self.cap);
        self.buf.drain(..over);
        self.buf.extend(b);
    }

    /// The output as Consul reports it: the kept tail, prefixed with
    /// `Captured <kept> of <total> bytes\n...\n` when bytes were dropped.
    pub fn render(&self) -> String {
        let (a, b) = self.buf.as_slices();
        let mut bytes = Vec::with_capacity(self.buf.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        let text = String::from_utf8_lossy(&bytes);
        if self.total > self.buf.len() as u64 {
            format!(
                "Captured {} of {} bytes\n...\n{}",
                self.buf.len(),
                self.total,
                text
            )
        } else {
            text.into_owned()
        }
    }
}

/// Cut `s` to at most `max` bytes at a character boundary, saying so as Consul does for
/// TTL notes: `<head> ... (captured <max> of <len> bytes)`.
pub fn truncate_note(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ... (captured {} of {} bytes)", &s[..end], max, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_says_how_much_was_dropped() {
        let mut t = TailBuffer::new(4);
        t.write(b"ab");
        assert_eq!(t.render(), "ab");
        t.write(b"cdef");
        assert_eq!(t.render(), "Captured 4 of 6 bytes\n...\ncdef");
        t.write(b"0123456789");
        assert_eq!(t.render(), "Captured 4 of 16 bytes\n...\n6789");
    }

    #[test]
    fn notes_are_cut_at_a_char_boundary() {
        assert_eq!(truncate_note("hello", 10), "hello");
        assert_eq!(truncate_note("héllo", 2), "h ... (captured 2 of 6 bytes)");
    }
}
