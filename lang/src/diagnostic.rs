//! Diagnostics: compile errors and their rendering (DIALECT points 10, 16).
//!
//! Layout, to the byte: `error: MESSAGE`, ` --> FILE:LINE:COL`, a gutter as
//! wide as the line number, the source line, one caret per byte of the
//! token (clipped to the line, at least one), then an optional `help:` line;
//! trailing whitespace is trimmed from every line.
//!
//! Bad input stays small (DIALECT 16): a compile shows at most
//! `MAX_DIAGNOSTICS` diagnostics and then counts the rest; a source line
//! longer than `MAX_LINE_BYTES` is shown as a window around the caret, so
//! the size of what is written does not grow with the size of the input.

use crate::chunk::{line_col, Span};

/// The most diagnostics one compile shows.
pub const MAX_DIAGNOSTICS: usize = 100;
/// The longest source line shown whole; a longer one is shown as a window
/// of at most this many bytes.
pub const MAX_LINE_BYTES: usize = 200;
/// How many bytes before the caret's column the window starts.
const WINDOW_LEAD: usize = 40;

/// An error found before the program runs (lexing, parsing, compiling).
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
}

impl CompileError {
    pub fn new(message: String, span: Span, help: Option<String>) -> CompileError {
        CompileError { message, span, help }
    }
}

/// The part of a source line that is shown.
struct Shown<'s> {
    /// `...` where the line was cut at the start (else empty).
    before: &'static str,
    /// The shown bytes of the line.
    text: &'s str,
    /// `...` where the line was cut at the end (else empty).
    after: &'static str,
    /// Where `text` starts in the line.
    start: usize,
}

/// The shown part of `line` for a caret at byte `caret` (DIALECT 16): the
/// whole line when it is short; otherwise at most `MAX_LINE_BYTES` bytes
/// from `WINDOW_LEAD` bytes before the caret (or the line's start), the
/// start moved forward and the end back to character boundaries, with `...`
/// where the line was cut.
fn window(line: &str, caret: usize) -> Shown<'_> {
    if line.len() <= MAX_LINE_BYTES {
        return Shown { before: "", text: line, after: "", start: 0 };
    }
    let from = caret.saturating_sub(WINDOW_LEAD).min(line.len());
    let mut start = from;
    while !line.is_char_boundary(start) {
        start += 1;
    }
    let mut end = (from + MAX_LINE_BYTES).min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    Shown {
        before: if start > 0 { "..." } else { "" },
        text: &line[start..end],
        after: if end < line.len() { "..." } else { "" },
        start,
    }
}

/// Renders one diagnostic pointing at `span` of `source`.
pub fn render(file: &str, source: &str, message: &str, span: Span, help: Option<&str>) -> String {
    let start = (span.start as usize).min(source.len());
    let (line, col) = line_col(source, start);
    let line_start = start + 1 - col;
    let line_text = source[line_start..].split('\n').next().unwrap_or("");
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let shown = window(line_text, col - 1);
    let width = line.to_string().len();
    let pad = " ".repeat(width);
    // The caret goes under its byte of the shown part; it may sit just past
    // the shown text (an error at the end of the line).
    let indent = shown.before.len() + (col - 1).saturating_sub(shown.start);
    let avail = (shown.start + shown.text.len()).saturating_sub(col - 1);
    let carets = (span.end.saturating_sub(span.start) as usize).min(avail).max(1);
    let mut out = String::new();
    out.push_str(&format!("error: {message}\n"));
    out.push_str(&format!(" --> {file}:{line}:{col}\n"));
    out.push_str(&format!("{pad} |\n"));
    out.push_str(format!("{line} | {}{}{}", shown.before, shown.text, shown.after).trim_end());
    out.push('\n');
    out.push_str(&format!("{pad} | {}{}\n", " ".repeat(indent), "^".repeat(carets)));
    if let Some(help) = help {
        out.push_str(&format!("help: {help}\n"));
    }
    out
}

/// Renders the compile errors in source order, separated by blank lines:
/// the first `MAX_DIAGNOSTICS`, then a line that counts the others.
pub fn render_all(file: &str, source: &str, errors: &[CompileError]) -> String {
    let mut sorted: Vec<&CompileError> = errors.iter().collect();
    sorted.sort_by_key(|e| e.span.start);
    let mut parts: Vec<String> = sorted
        .iter()
        .take(MAX_DIAGNOSTICS)
        .map(|e| render(file, source, &e.message, e.span, e.help.as_deref()))
        .collect();
    match sorted.len().saturating_sub(MAX_DIAGNOSTICS) {
        0 => {}
        1 => parts.push("error: 1 more error not shown\n".to_string()),
        n => parts.push(format!("error: {n} more errors not shown\n")),
    }
    parts.join("\n")
}
