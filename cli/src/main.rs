//! The `trialpanel` binary: [`trialpanel_cli::main`] with mimalloc as the
//! allocator.

use std::process::ExitCode;

// Batches allocate and free large buffers; the system allocator returns
// them to the kernel, which zeroes fresh pages for the next batch.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    trialpanel_cli::main(std::env::args().skip(1))
}
