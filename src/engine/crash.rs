//! Crash points for the crash-matrix tests: `DRILLBOOK_TEST_CRASH_AT` makes the process kill
//! itself with SIGKILL (as `kill -9` would) at one chosen point of a run, so a test can prove
//! that `drillbook resume` recovers from a crash exactly there.
//!
//! | value                 | where the process dies                                           |
//! |-----------------------|------------------------------------------------------------------|
//! | `start`               | the run's first record is durable, no step has started            |
//! | `after:STEP`          | STEP's outcome is durable (fsync'd), no dependent has started     |
//! | `before-apply:STEP`   | STEP observed and is about to make its changes                    |
//! | `after-apply:STEP`    | STEP's changes reached AWS, its outcome is not journaled          |
//!
//! Unset (always, outside tests), every check is one comparison against `None`. Release builds
//! ignore the variable (see `hooks::TEST_HOOKS`).

use std::sync::OnceLock;

use super::hooks::CRASH_ENV;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Point {
    Start,
    After,
    BeforeApply,
    AfterApply,
}

#[derive(Debug, PartialEq, Eq)]
struct CrashAt {
    point: Point,
    step: String,
}

fn parse(value: &str) -> Option<CrashAt> {
    let (point, step) = match value.split_once(':') {
        None if value == "start" => (Point::Start, ""),
        Some(("after", s)) => (Point::After, s),
        Some(("before-apply", s)) => (Point::BeforeApply, s),
        Some(("after-apply", s)) => (Point::AfterApply, s),
        _ => return None,
    };
    Some(CrashAt {
        point,
        step: step.to_string(),
    })
}

fn armed_point() -> Option<&'static CrashAt> {
    static ARMED: OnceLock<Option<CrashAt>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            super::hooks::test_hook(CRASH_ENV)
                .as_deref()
                .and_then(parse)
        })
        .as_ref()
}

/// Whether this point is the armed one.
pub(super) fn armed(at: Point, step: &str) -> bool {
    armed_point().is_some_and(|a| a.point == at && a.step == step)
}

/// Dies here, with SIGKILL, when this point is the armed one.
pub(super) fn point(at: Point, step: &str) {
    if armed(at, step) {
        tracing::warn!(?at, step, "{CRASH_ENV}: killing the process");
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_to_points() {
        assert_eq!(
            parse("after:switch-dns"),
            Some(CrashAt {
                point: Point::After,
                step: "switch-dns".into()
            })
        );
        assert_eq!(parse("start").map(|c| c.point), Some(Point::Start));
        assert_eq!(
            parse("after-apply:promote-key").map(|c| c.point),
            Some(Point::AfterApply)
        );
        assert_eq!(
            parse("before-apply:a").map(|c| c.point),
            Some(Point::BeforeApply)
        );
        assert_eq!(parse("during:a"), None);
        assert_eq!(parse(""), None);
    }
}
