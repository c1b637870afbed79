//! Located runbook problems as miette diagnostics.

use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use super::yaml::Span;

/// Lines longer than this are not quoted in diagnostics (the location is still given).
const MAX_QUOTED_LINE: usize = 400;

/// A source file with a line index, so each diagnostic finds its lines in O(log n).
#[derive(Clone)]
pub struct Source {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    name: String,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Source {
    pub fn new(name: impl Into<String>, text: Arc<str>) -> Source {
        let mut line_starts = vec![0];
        let b = text.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Source {
            inner: Arc::new(SourceInner {
                name: name.into(),
                text,
                line_starts,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// 0-based line index holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        match self.inner.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Byte range of line `i`, without its line break.
    fn line_range(&self, i: usize) -> (usize, usize) {
        let starts = &self.inner.line_starts;
        let start = starts[i];
        let mut end = starts.get(i + 1).map_or(self.inner.text.len(), |n| n - 1);
        if end > start && self.inner.text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        (start, end)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(offset);
        let line = self.line_of(offset);
        let start = self.inner.line_starts[line];
        let col = self.inner.text[start..offset].chars().count() + 1;
        (line + 1, col)
    }

    fn clamp(&self, offset: usize) -> usize {
        let text = &self.inner.text;
        let mut o = offset.min(text.len());
        while !text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    fn line_too_long(&self, offset: usize) -> bool {
        let (s, e) = self.line_range(self.line_of(self.clamp(offset)));
        e - s > MAX_QUOTED_LINE
    }
}

impl SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = &self.inner.text;
        let start = span.offset();
        let end = start + span.len();
        if end > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first = self.line_of(start);
        let last = self.line_of(end.saturating_sub(1).max(start));
        let from_line = first.saturating_sub(context_lines_before);
        let to_line = (last + context_lines_after).min(self.inner.line_starts.len() - 1);
        let from = self.inner.line_starts[from_line];
        let to = self
            .inner
            .line_starts
            .get(to_line + 1)
            .copied()
            .unwrap_or(text.len());
        let column = if context_lines_before == 0 {
            text[self.inner.line_starts[first]..start].chars().count()
        } else {
            0
        };
        let (data_start, line) = if context_lines_before == 0 {
            (start, first)
        } else {
            (from, from_line)
        };
        let data_end = if context_lines_before == 0 && context_lines_after == 0 {
            end
        } else {
            to
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.inner.name.clone(),
            &text.as_bytes()[data_start..data_end],
            (data_start, data_end - data_start).into(),
            line,
            column,
            self.inner.line_starts.len(),
        )))
    }
}

/// One problem in a runbook: a message, where it is, what to do.
#[derive(Debug, Clone)]
pub struct Problem {
    pub message: String,
    /// `file:line:column` (1-based), when the problem has a place in a file.
    pub location: Option<(String, usize, usize)>,
    pub help: Option<String>,
    label: Option<(SourceSpan, String)>,
    source: Option<Source>,
}

impl Problem {
    /// A problem without a place in the file (an argument, an unreadable file).
    pub fn general(message: impl Into<String>, help: Option<String>) -> Problem {
        Problem {
            message: message.into(),
            location: None,
            help,
            label: None,
            source: None,
        }
    }

    /// A problem at `span` of `source`, with a short label under the caret.
    pub fn at(
        source: &Source,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) -> Problem {
        let start = source.clamp(span.start);
        let end = source.clamp(span.end.max(start));
        let (line, col) = source.line_col(start);
        let mut message = message.into();
        let (label, src) = if source.line_too_long(start) {
            message = format!("{}:{line}:{col}: {message}", source.name());
            (None, None)
        } else {
            let (_, line_end) = source.line_range(source.line_of(start));
            // Keep the label on the first line.
            let end = end.min(line_end).max(start);
            (
                Some(((start, end - start).into(), label.into())),
                Some(source.clone()),
            )
        };
        Problem {
            message,
            location: Some((source.name().to_string(), line, col)),
            help,
            label,
            source: src,
        }
    }

    /// `file:line:col`, when located.
    pub fn location_string(&self) -> Option<String> {
        self.location
            .as_ref()
            .map(|(f, l, c)| format!("{f}:{l}:{c}"))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (span, text) = self.label.as_ref()?;
        let text = (!text.is_empty()).then(|| text.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            text, *span,
        ))))
    }
}

/// Every problem found in one pass over a runbook.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub problems: Vec<Problem>,
    /// Problems found beyond the reporting cap and not listed.
    pub omitted: usize,
}

/// Most problems listed per file; the rest are counted.
pub(crate) const MAX_PROBLEMS: usize = 100;

impl Diagnostics {
    pub fn single(p: Problem) -> Diagnostics {
        Diagnostics {
            problems: vec![p],
            omitted: 0,
        }
    }

    /// A problem without a location (kept for callers that build their own).
    pub fn message(m: impl Into<String>) -> Diagnostics {
        Diagnostics::single(Problem::general(m, None))
    }

    pub fn len(&self) -> usize {
        self.problems.len() + self.omitted
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Renders every problem the way `drillbook validate` prints them.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false)
            .without_syntax_highlighting();
        let mut out = String::new();
        for p in &self.problems {
            if handler.render_report(&mut out, p).is_err() {
                out.push_str(&format!("error: {p}\n"));
            }
        }
        if self.omitted > 0 {
            out.push_str(&format!(
                "… and {} more problems (fix these first)\n",
                self.omitted
            ));
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render(false).trim_end())
    }
}

impl std::error::Error for Diagnostics {}
