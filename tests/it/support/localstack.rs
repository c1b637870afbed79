//! LocalStack, started lazily and only by the tests that ask for it
//! (`localstack/emulator start --localstack`). When it cannot start (no Python >= 3.12, the
//! install fails, it does not answer), `localstack()` returns `Err(reason)` and those tests skip.
//! It exits with the test binary (parent-pid watchdog in `localstack/localstack_run.py`).

use std::sync::OnceLock;

use super::{Emulator, run_dir};

static LOCALSTACK: OnceLock<Result<Emulator, String>> = OnceLock::new();

/// Exit code of `localstack/emulator` when no Python >= 3.12 exists.
pub(crate) const EXIT_NO_PYTHON312: i32 = 4;

/// The shared LocalStack instance, or why it is unavailable.
pub(crate) fn localstack() -> Result<&'static Emulator, &'static str> {
    LOCALSTACK
        .get_or_init(|| {
            if std::env::var_os("DRILLBOOK_SKIP_LOCALSTACK").is_some() {
                return Err("DRILLBOOK_SKIP_LOCALSTACK is set".to_string());
            }
            Emulator::start(&run_dir().join("localstack.env"), &["--localstack"])
        })
        .as_ref()
        .map_err(|e| e.as_str())
}

/// `let ls = require_localstack!();` returns from the test (skip) when LocalStack is unavailable,
/// or fails it when `DRILLBOOK_REQUIRE_LOCALSTACK` is set (CI, where LocalStack must start).
#[macro_export]
macro_rules! require_localstack {
    () => {
        match $crate::support::localstack::localstack() {
            Ok(ls) => ls,
            Err(why) if std::env::var_os("DRILLBOOK_REQUIRE_LOCALSTACK").is_some() => {
                panic!("LocalStack is required here (DRILLBOOK_REQUIRE_LOCALSTACK) but: {why}")
            }
            Err(why) => {
                eprintln!("SKIPPED: LocalStack is not available: {why}");
                return;
            }
        }
    };
}
