//! `racetrack-plugin`: install, list, delete, call and bundle Racetrack plugins.

fn main() -> std::process::ExitCode {
    racetrack_plugins::cli::main_exit_code()
}
