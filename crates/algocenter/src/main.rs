//! `algocenter`: the server (`serve`) and a command-line client of its API.

use std::process::ExitCode;
use std::time::Duration;

use algocenter::{cli, client, data, demo, export, functions, generate, keys, push, serve};
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(*args).await,
            cli::Command::App(command) => client::app(cli.client, command).await,
            cli::Command::Push(args) => push::run(cli.client, args).await,
            cli::Command::Generate(args) => generate::run(args),
            cli::Command::Export(args) => export::run(cli.client, args).await,
            cli::Command::Key(command) => keys::run(cli.client, command).await,
            cli::Command::Instance(command) => functions::instance(cli.client, command).await,
            cli::Command::Task(command) => functions::task(cli.client, command).await,
            cli::Command::Demo(args) => demo::run(cli.client, args).await,
            cli::Command::Call { method, path, body } => {
                client::raw_call(cli.client, method, path, body).await
            }
            cli::Command::Data(command) => data::run(cli.client, command).await,
        }
    });
    // A trainer thread that ignored its cancellation must not keep the process alive after shutdown.
    runtime.shutdown_timeout(Duration::from_secs(5));
    code
}
