//! `algocenter`: the server (`serve`) and a command-line client of its API.

use std::process::ExitCode;
use std::time::Duration;

use algocenter::{
    cli, client, data, demo, export, functions, generate, keys, predict, push, resources, serve,
};
use clap::Parser;

/// mimalloc (its v2 series) rather than glibc's allocator: trainings free and allocate millions of small strings
/// and vectors (events decoded, keys counted), where glibc's consolidation of freed chunks took a fifth of a
/// suggest training's CPU, and a rerank allocates per candidate. v3 was tried first: it returned freed pages to
/// the system so eagerly that lightly loaded endpoints paid for faulting them back. Figures: bench/README.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let cli::Cli { client, command } = cli;
    // Client commands read the client configuration file for what flags and environment leave unset.
    let client = if matches!(
        command,
        cli::Command::Serve(_) | cli::Command::Worker(_) | cli::Command::Generate(_)
    ) {
        client
    } else {
        match client.with_config_file() {
            Ok(client) => client,
            Err(failure) => return failure.exit(),
        }
    };
    let code = runtime.block_on(async move {
        match command {
            cli::Command::Serve(args) => serve::run(*args).await,
            cli::Command::Worker(args) => serve::run_worker(*args).await,
            cli::Command::App(command) => client::app(client, command).await,
            cli::Command::Push(args) => push::run(client, args).await,
            cli::Command::Generate(args) => generate::run(args),
            cli::Command::Export(args) => export::run(client, args).await,
            cli::Command::Key(command) => keys::run(client, command).await,
            cli::Command::Instance(command) => functions::instance(client, command).await,
            cli::Command::Task(command) => functions::task(client, command).await,
            cli::Command::Resource(command) => resources::run(client, command).await,
            cli::Command::Demo(args) => demo::run(client, args).await,
            cli::Command::Call { method, path, body } => {
                client::raw_call(client, method, path, body).await
            }
            cli::Command::Data(command) => data::run(client, command).await,
            cli::Command::Predict(args) => predict::run(client, args).await,
        }
    });
    // A trainer thread that ignored its cancellation must not keep the process alive after shutdown.
    runtime.shutdown_timeout(Duration::from_secs(5));
    code
}
