include!(concat!(env!("OUT_DIR"), "/suffixes.rs"));

fn ordinal(n: u64) -> String {
    let suffix = if (11..=13).contains(&(n % 100)) { "th" } else { SUFFIXES[(n % 10) as usize] };
    format!("{}{}", n, suffix)
}

fn main() {
    let name = common::first_arg("world");
    let count = name.chars().count() as u64;
    println!("{} Your name has {} letters; you are my {} visitor.", common::greeting(&name), count, ordinal(count));
}
