//! Diagnostics: compile errors and their rendering (DIALECT point 10).
//!
//! Layout, to the byte: `error: MESSAGE`, ` --> FILE:LINE:COL`, a gutter as
//! wide as the line number, the source line, one caret per byte of the
//! token (clipped to the line, at least one), then an optional `help:` line;
//! trailing whitespace is trimmed from every line.

use crate::chunk::{line_col, Span};

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

/// Renders one diagnostic pointing at `span` of `source`.
pub fn render(file: &str, source: &str, message: &str, span: Span, help: Option<&str>) -> String {
    let start = (span.start as usize).min(source.len());
    let (line, col) = line_col(source, start);
    let line_start = start + 1 - col;
    let line_text = source[line_start..].split('\n').next().unwrap_or("");
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let width = line.to_string().len();
    let pad = " ".repeat(width);
    let avail = line_text.len().saturating_sub(col - 1);
    let carets = (span.end.saturating_sub(span.start) as usize).min(avail).max(1);
    let mut out = String::new();
    out.push_str(&format!("error: {message}\n"));
    out.push_str(&format!(" --> {file}:{line}:{col}\n"));
    out.push_str(&format!("{pad} |\n"));
    out.push_str(format!("{line} | {line_text}").trim_end());
    out.push('\n');
    out.push_str(&format!("{pad} | {}{}\n", " ".repeat(col - 1), "^".repeat(carets)));
    if let Some(help) = help {
        out.push_str(&format!("help: {help}\n"));
    }
    out
}

/// Renders every compile error, in source order, separated by blank lines.
pub fn render_all(file: &str, source: &str, errors: &[CompileError]) -> String {
    let mut sorted: Vec<&CompileError> = errors.iter().collect();
    sorted.sort_by_key(|e| e.span.start);
    sorted.iter().map(|e| render(file, source, &e.message, e.span, e.help.as_deref())).collect::<Vec<_>>().join("\n")
}
