# An embly project: three functions sharing the `common` crate, one using vendored crates.

function "greeter" {
  runtime = "rust"
  path    = "./greeter"
}

function "counter" {
  runtime = "rust"
  path    = "./counter"    # has a build.rs
}

function "shout" {
  runtime = "rust"
  path    = "./shout"
  sources = ["./words"]    # read at compile time with include_str!
}

function "person" {
  runtime = "rust"
  path    = "./person"     # serde, serde_json and regex from crates.io,
  sources = ["./vendor"]   # vendored by `cargo vendor` (see .cargo/config.toml)
}

files "assets" {
  path = "./assets"
}

gateway {
  type = "http"
  port = 8080
  route "/hello" {
    function = "${function.greeter}"
  }
  route "/count" {
    function = "${function.counter}"
  }
}

dependencies = ["embly/http"]
