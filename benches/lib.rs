//! Benchmarks live in `benches/`. This library holds one thing: the
//! allocator every benchmark binary links (they all link this library), the
//! one the `privsim` binary uses (`sim/cli/src/main.rs`), so the benchmarks
//! time privsim and raw Cedar the way the command line runs them.

/// The `privsim` binary's allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
