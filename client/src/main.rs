//! anonmap: the client.
fn main() {}
