//! `anonmap`: parses the command line and hands it to [`anonmap::app::execute`].

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = anonmap::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match anonmap::app::execute(&cli, &mut out) {
        Ok(()) => Ok(()),
        Err(anonmap::app::AppError::LinesFailed(n)) => {
            drop(out);
            std::process::exit(if n > 0 { 1 } else { 0 })
        }
        Err(e) => Err(anyhow::anyhow!(e)),
    }
}
