// mimalloc: loading a large runbook builds many small nodes; it is markedly faster than the
// system allocator at that (BENCHMARKS.md, validate + plan).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    drillbook::cli::main()
}
