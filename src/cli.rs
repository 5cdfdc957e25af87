//! Command line: `serve` (default), `migrate`, `seed-demo`, `export-schema`,
//! `replay-sgd`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::settings::Settings;
use crate::startup::{Application, graph_state};

/// Servicegraph: multi-tenant GraphQL API for service businesses.
#[derive(Parser, Debug)]
#[command(name = "servicegraph", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate, seed the demo tenant (development), and serve HTTP.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create the demo tenant (slug `demo`) if it does not exist, and exit.
    SeedDemo,
    /// Write the GraphQL SDL (default `schema/schema.graphql`).
    ExportSchema {
        /// Output file; `-` for stdout.
        #[arg(long, default_value = "schema/schema.graphql")]
        out: PathBuf,
    },
    /// Replay Google SGD booking dialogues against a running server over HTTP.
    ReplaySgd {
        /// SGD dialogues JSON (e.g. ../shared/data/sgd/train_services_dialogues.json).
        file: PathBuf,
        /// Base URL of the server.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Re-encrypt plugin secrets under the first key of `ENCRYPTION_KEY` (key rotation).
    RotateKeys,
}

/// Runs the command line. Returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let settings = Settings::from_env()?;
            let seeded = settings.seed_demo;
            let app = Application::build(settings).await?;
            let addr = app.local_addr()?;
            println!("Servicegraph listening on http://{addr}");
            println!(
                "  GraphQL:    http://{addr}/graphql  (subscriptions: ws://{addr}/graphql/ws)"
            );
            println!("  Playground: http://{addr}/playground");
            if seeded {
                println!(
                    "  Demo login: {} / {} (tenant slug `{}`; technician: {})",
                    graph::seed::DEMO_OWNER_EMAIL,
                    graph::seed::DEMO_PASSWORD,
                    graph::seed::DEMO_SLUG,
                    graph::seed::DEMO_TECH_EMAIL
                );
            }
            app.run_until_stopped().await?;
            Ok(0)
        }
        Command::Migrate => {
            let mut settings = Settings::from_env()?;
            settings.database.auto_migrate = true;
            graph_state(&settings).await?;
            println!("migrations applied");
            Ok(0)
        }
        Command::SeedDemo => {
            let settings = Settings::from_env()?;
            let st = graph_state(&settings).await?;
            let created = graph::seed::seed_demo(&st)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            crate::db_setup::analyze_new_tables(&settings, st.db.connection()).await?;
            println!(
                "{}",
                if created {
                    "demo tenant created"
                } else {
                    "demo tenant already exists"
                }
            );
            Ok(0)
        }
        Command::ExportSchema { out } => {
            let sdl = graph::sdl();
            if out.as_os_str() == "-" {
                print!("{sdl}");
            } else {
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&out, sdl).with_context(|| format!("writing {}", out.display()))?;
                println!("wrote {}", out.display());
            }
            Ok(0)
        }
        Command::RotateKeys => {
            let settings = Settings::from_env()?;
            let r = crate::rotate_keys::run(&settings).await?;
            println!(
                "re-encrypted {} of {} sealed plugin configurations",
                r.rotated, r.sealed
            );
            Ok(0)
        }
        Command::ReplaySgd { file, url } => {
            let summary = crate::replay_sgd::run(&file, &url).await?;
            println!("{}", summary.line());
            Ok(if summary.server_errors > 0 { 1 } else { 0 })
        }
    }
}
