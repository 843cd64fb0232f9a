fn main() -> std::process::ExitCode {
    backup_exporter::main()
}
