use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = dialer::cli::Cli::parse();
    match dialer::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("dialer: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
