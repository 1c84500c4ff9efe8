//! Shared by every function of the project.

/// The greeting every function uses.
pub fn greeting(name: &str) -> String {
    format!("Hello, {}!", name)
}

/// The first command-line argument, or `fallback`.
pub fn first_arg(fallback: &str) -> String {
    std::env::args().nth(1).unwrap_or_else(|| fallback.to_string())
}
