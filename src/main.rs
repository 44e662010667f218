//! The `cxkpi` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// See `cxkpi::alloc::Allocator`: large aligned zeroed buffers from calloc, pages untouched.
#[global_allocator]
static ALLOCATOR: cxkpi::alloc::Allocator = cxkpi::alloc::Allocator;

fn main() -> ExitCode {
    let cli = cxkpi::cli::Cli::parse();
    match cxkpi::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                cxkpi::Error::Rejected { .. } => eprintln!("cxkpi: {e}"),
                _ => eprintln!("error: {e}"),
            }
            ExitCode::from(e.exit_code())
        }
    }
}
