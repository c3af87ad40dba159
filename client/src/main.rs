//! `anonmap`: parses the command line and hands it to [`anonmap::app::execute`]. Errors are
//! printed as one `anonmap: ...` line on stderr, exit code 1; `run`, `do`
//! and `replay` exit 1 when a line failed.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = anonmap::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = anonmap::app::execute(&cli, &mut out);
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(anonmap::app::AppError::LinesFailed(n)) => {
            if n > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            // The error's text already names its cause.
            eprintln!("anonmap: {e}");
            ExitCode::FAILURE
        }
    }
}
