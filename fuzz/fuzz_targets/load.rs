//! Any bytes, as a runbook and as a scenario: the loaders must answer with diagnostics (which
//! must render) or a value, never panic, hang or exhaust memory.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("fuzz.yaml");
    if let Err(d) = drillbook::runbook::load_str(path, &text, &[]) {
        let _ = d.render(false);
    }
    if let Err(d) = drillbook::scenario::load_scenario_str(path, &text) {
        let _ = d.render(false);
    }
});
