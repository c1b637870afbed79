// mimalloc: loading a large runbook builds many small nodes; it is markedly faster than the
// system allocator at that (BENCHMARKS.md, validate + plan).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // No transparent huge pages for this process. mimalloc asks for them on its segments, and
    // the first touch of each one then makes the kernel zero 2 MiB: on a 1,000-step run that
    // zeroing was about half of the process's CPU time and doubled its RSS (BENCHMARKS.md,
    // 2026-12-07). A short-lived command gains nothing from fewer TLB misses.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    drillbook::cli::main()
}
