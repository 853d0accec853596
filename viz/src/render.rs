//! Pictures through Graphviz's `dot` program.
//!
//! `dot -T<format>` reads the DOT text on stdin and writes the picture on
//! stdout. A helper thread feeds stdin while this thread drains stdout and
//! stderr, so neither pipe can fill up and stall the other side.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Write as _};
use std::process::{Command, ExitStatus, Stdio};

/// The picture formats [`render`] produces.
///
/// # Example
///
/// ```
/// assert_eq!(hpyx_viz::Format::Png.extension(), "png");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Scalable vector graphics; tooltips work in browsers.
    Svg,
    /// A bitmap.
    Png,
}

impl Format {
    /// The file extension, which is also `dot`'s name for the format.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(hpyx_viz::Format::Svg.extension(), "svg");
    /// ```
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// Rendering failed: `dot` is not installed (or could not be started), or it
/// rejected the input.
///
/// # Example
///
/// ```
/// use hpyx_viz::{render_with, Format};
///
/// let err = render_with("no-such-graphviz-dot", "digraph {}", Format::Svg).unwrap_err();
/// assert!(err.is_not_found());
/// assert!(err.to_string().contains("`no-such-graphviz-dot`"));
/// assert!(err.to_string().contains("install Graphviz"));
/// ```
#[derive(Debug)]
pub struct RenderError {
    program: OsString,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    NotFound,
    Io(io::Error),
    Failed { status: ExitStatus, stderr: String },
}

impl RenderError {
    /// True if the program was not found, i.e. Graphviz is not installed (or
    /// not on `PATH`).
    ///
    /// # Example
    ///
    /// ```
    /// let err = hpyx_viz::render_with("no-such-graphviz-dot", "digraph {}", hpyx_viz::Format::Png).unwrap_err();
    /// assert!(err.is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, Kind::NotFound)
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = self.program.to_string_lossy();
        match &self.kind {
            Kind::NotFound => write!(
                f,
                "cannot render the graph: the Graphviz program `{program}` was not found; \
                 install Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz` \
                 or `conda install graphviz`) or export DOT text instead"
            ),
            Kind::Io(e) => write!(
                f,
                "cannot render the graph: running Graphviz `{program}` failed: {e}"
            ),
            Kind::Failed { status, stderr } => {
                write!(f, "cannot render the graph: Graphviz `{program}` {status}")?;
                if !stderr.is_empty() {
                    write!(f, ": {stderr}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RenderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Renders DOT text with Graphviz's `dot` from `PATH`.
///
/// # Example
///
/// ```no_run
/// use hpyx_viz::{render, to_dot, DotOptions, Format};
///
/// let dot = to_dot(&hpyx_graph::GraphSnapshot::default(), &DotOptions::default());
/// match render(&dot, Format::Svg) {
///     Ok(svg) => std::fs::write("graph.svg", svg).unwrap(),
///     Err(e) if e.is_not_found() => eprintln!("{e}"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
pub fn render(dot: &str, format: Format) -> Result<Vec<u8>, RenderError> {
    render_with("dot", dot, format)
}

/// Renders DOT text with the given Graphviz program (a name looked up on
/// `PATH`, or a path), as `program -T<format>`.
///
/// # Example
///
/// ```no_run
/// let svg = hpyx_viz::render_with("/opt/graphviz/bin/dot", "digraph { a -> b }", hpyx_viz::Format::Svg)?;
/// # Ok::<(), hpyx_viz::RenderError>(())
/// ```
pub fn render_with(
    program: impl AsRef<OsStr>,
    dot: &str,
    format: Format,
) -> Result<Vec<u8>, RenderError> {
    let program = program.as_ref();
    let error = |kind| RenderError {
        program: program.to_owned(),
        kind,
    };
    let mut child = Command::new(program)
        .arg(format!("-T{}", format.extension()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            error(if e.kind() == io::ErrorKind::NotFound {
                Kind::NotFound
            } else {
                Kind::Io(e)
            })
        })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let (written, output) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.write_all(dot.as_bytes()));
        let output = child.wait_with_output();
        (
            writer.join().expect("the stdin writer does not panic"),
            output,
        )
    });
    let output = output.map_err(|e| error(Kind::Io(e)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(error(Kind::Failed {
            status: output.status,
            stderr,
        }));
    }
    // A write error with a successful exit would mean `dot` stopped reading
    // early; do not trust its output then.
    written.map_err(|e| error(Kind::Io(e)))?;
    Ok(output.stdout)
}
