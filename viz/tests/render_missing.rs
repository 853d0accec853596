//! Without Graphviz, `render` names the missing program and how to get it.
//! Its own test binary: it empties `PATH` for the whole process.

use hpyx_viz::{render, render_with, Format};

#[test]
fn missing_dot_is_a_clear_error() {
    let empty = std::env::temp_dir().join("hpyx-viz-empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    std::env::set_var("PATH", &empty);
    for format in [Format::Svg, Format::Png] {
        let err = render("digraph { a -> b }", format).unwrap_err();
        assert!(err.is_not_found());
        let message = err.to_string();
        assert!(message.contains("`dot`"), "{message}");
        assert!(message.contains("install Graphviz"), "{message}");
        assert!(message.contains("apt-get install graphviz"), "{message}");
    }
    let err = render_with(empty.join("dot"), "digraph {}", Format::Svg).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("hpyx-viz-empty-path/dot"), "{err}");
}
