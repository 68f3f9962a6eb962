//! The `execgate` command line.
fn main() {}
