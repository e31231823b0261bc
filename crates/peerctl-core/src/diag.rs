//! Diagnostics: problems found in a spec, each naming where it is and how to fix it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A position in a spec file, 1-based. `line == 0` means "the file as a whole".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

impl Loc {
    pub const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub loc: Loc,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loc.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.loc.line, self.loc.column, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found, in file order; validation collects them all rather than
/// stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    file: String,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: impl Into<String>) -> Self {
        Self { file: file.into(), items: Vec::new() }
    }

    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.push(loc, message.into(), None);
    }

    pub fn error_with_hint(&mut self, loc: Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.push(loc, message.into(), Some(hint.into()));
    }

    fn push(&mut self, loc: Loc, message: String, hint: Option<String>) {
        self.items.push(Diagnostic { file: self.file.clone(), loc, message, hint });
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `other`'s problems after these.
    pub fn append(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// `Ok(value)` when nothing was reported, else every problem sorted by position.
    pub fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.items.is_empty() {
            Ok(value)
        } else {
            self.items.sort_by_key(|a| a.loc);
            self.items.dedup();
            Err(self)
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
