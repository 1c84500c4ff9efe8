# An embly project: three functions that share the `common` crate.

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
