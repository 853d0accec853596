//! Quiet expected panics: tests that panic on purpose (in a job, a hook, a
//! callback) would otherwise fill the output with backtraces that look like
//! failures.

use std::sync::Once;

/// Marks a panic message as expected: [`silence_expected_panics`] keeps it
/// out of the output.
pub const EXPECTED: &str = "(expected panic)";

/// Installs (once per test binary) a panic hook that stays silent for
/// panics whose message contains [`EXPECTED`] and reports every other panic
/// as the default hook does.
pub fn silence_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The hook info displays as the location and the message (when
            // the payload is a string, as `panic!` makes it).
            if !info.to_string().contains(EXPECTED) {
                default(info);
            }
        }));
    });
}
