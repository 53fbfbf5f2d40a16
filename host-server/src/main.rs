//! `emban`: the Emban server binary.

use clap::{Parser, Subcommand};
use emban_host_server::config::ServeArgs;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: ingest allocates an event's strings on a request's task and
/// frees them on the journal thread, which glibc pays for in arena locking and consolidation
/// (`BENCHMARKS.md`, "The ingest journal").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "emban", version, about = "Open, self-hosted embedded analytics")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("EMBAN_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let Cli { command: Command::Serve(args) } = Cli::parse();
    let data_dir = args.data_dir.clone();
    let server = emban_host_server::start(args).await?;
    // Tests and scripts wait for this line.
    println!("emban listening on {} (data dir {})", server.url(), data_dir.display());
    println!(
        "embeds: any page may frame an org's embeds until its admins restrict it \
         (PATCH /v1/settings/org {{\"embedding\": {{\"allowed_origins\": [\"https://app.example.com\"]}}}}) \
         or a session names its own allowed_origins; see docs/embed.md, \"Who may frame an embed\""
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
