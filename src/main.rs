fn main() {
    let code = herodo::main_entry(std::env::args_os().collect());
    std::process::exit(code);
}
