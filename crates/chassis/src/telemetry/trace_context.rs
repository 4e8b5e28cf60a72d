//! W3C Trace Context (`traceparent`): continue the caller's trace, or start one.

use std::fmt::Write;

/// The part of a trace context this service acts on: which trace, and which span is ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub sampled: bool,
}

impl TraceContext {
    /// Continues the trace in `traceparent` when it is valid, else starts a new, sampled one.
    pub fn continue_or_start(traceparent: Option<&str>) -> Self {
        let span_id = random_hex(8);
        match traceparent.and_then(parse) {
            Some((trace_id, parent, flags)) => {
                Self { trace_id, span_id, parent_span_id: Some(parent), sampled: flags & 1 == 1 }
            }
            None => Self { trace_id: random_hex(16), span_id, parent_span_id: None, sampled: true },
        }
    }

    /// A new span in the same trace, a child of this one.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            span_id: random_hex(8),
            parent_span_id: Some(self.span_id.clone()),
            sampled: self.sampled,
        }
    }

    /// The `traceparent` header for calls made on behalf of this span.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, u8::from(self.sampled))
    }
}

/// The caller's span named by a valid `traceparent`: its trace, its span id, and whether it is sampled.
pub(crate) fn parse_traceparent(header: &str) -> Option<(String, String, bool)> {
    parse(header).map(|(trace_id, span_id, flags)| (trace_id, span_id, flags & 1 == 1))
}

fn parse(header: &str) -> Option<(String, String, u8)> {
    let mut parts = header.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent = parts.next()?;
    let flags = parts.next()?;
    let hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    // Version 00 has exactly four fields; later versions may append more, which we ignore.
    if !hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !hex(trace_id, 32) || !nonzero(trace_id) || !hex(parent, 16) || !nonzero(parent) || !hex(flags, 2) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id.to_owned(), parent.to_owned(), flags))
}

fn random_hex(bytes: usize) -> String {
    // UUIDv4 is 122 bits from the OS generator; two of them cover any id we need.
    let mut source = [*uuid::Uuid::new_v4().as_bytes(), *uuid::Uuid::new_v4().as_bytes()].concat();
    source.truncate(bytes);
    source.iter().fold(String::with_capacity(bytes * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_parent() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::continue_or_start(Some(parent));
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(ctx.span_id, "00f067aa0ba902b7");
        assert!(ctx.sampled);
        assert!(ctx.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    #[test]
    fn starts_fresh_on_garbage_or_all_zero_ids() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            let ctx = TraceContext::continue_or_start(Some(bad));
            assert_eq!(ctx.parent_span_id, None, "{bad}");
            assert_eq!(ctx.trace_id.len(), 32);
            assert_eq!(ctx.span_id.len(), 16);
        }
    }
}
