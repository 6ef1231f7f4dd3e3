//! `mco-tokens`: puts, lists and revokes token records in a deployed stack's tokens table (see
//! `--help`). The command line only: the work is the library's (`tokens::run`), where the tests
//! call it. Exit status 0 on success, 1 on a failure (printed on stderr), 2 on a bad command line.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = tokens::Cli::parse();
    let result = tokens::run(
        cli,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mco-tokens: {failure}");
            ExitCode::FAILURE
        }
    }
}
