// Generates the table of ordinal suffixes at build time.
use std::{env, fs, path::Path};

fn main() {
    let suffixes = ["th", "st", "nd", "rd", "th", "th", "th", "th", "th", "th"];
    let table = format!("pub const SUFFIXES: [&str; 10] = {:?};\n", suffixes);
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("suffixes.rs");
    fs::write(out, table).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
