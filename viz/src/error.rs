//! The error of reading exported JSON.

use std::fmt;

/// Reading a graph export or a trace line failed: the text is not JSON of
/// the expected shape, or it declares a schema this version cannot read.
///
/// # Example
///
/// ```
/// let err = hpyx_viz::from_json(r#"{"schema": "hpyx.graph/99", "nodes": [], "edges": []}"#).unwrap_err();
/// assert!(err.to_string().contains("hpyx.graph/99"));
/// ```
#[derive(Debug)]
pub struct JsonError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Syntax(serde_json::Error),
    Schema(String),
}

impl JsonError {
    pub(crate) fn schema(found: String) -> JsonError {
        JsonError {
            kind: Kind::Schema(found),
        }
    }

    /// True if the text is valid JSON of the right shape but names a schema
    /// (`"schema"` field) this version does not read.
    ///
    /// # Example
    ///
    /// ```
    /// let err = hpyx_viz::from_json(r#"{"schema": "other/1", "nodes": [], "edges": []}"#).unwrap_err();
    /// assert!(err.is_unsupported_schema());
    /// ```
    pub fn is_unsupported_schema(&self) -> bool {
        matches!(self.kind, Kind::Schema(_))
    }
}

impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> Self {
        JsonError {
            kind: Kind::Syntax(e),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Syntax(e) => write!(f, "invalid hpyx export JSON: {e}"),
            Kind::Schema(found) => write!(
                f,
                "unsupported graph export schema {found:?}: this version reads {:?}",
                crate::json::SCHEMA
            ),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Syntax(e) => Some(e),
            Kind::Schema(_) => None,
        }
    }
}
