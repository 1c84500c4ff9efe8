//! Reads a person as "Name [Surname...] [(year of birth)]" from its arguments and prints
//! them as JSON: `embly run person -- Ada Lovelace (1815)`.

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Person {
    name: String,
    initials: String,
    born: Option<u16>,
}

fn parse(text: &str) -> Option<Person> {
    let pattern = Regex::new(r"^\s*(?P<name>\w[\w\s.'-]*?)\s*(?:\((?P<born>\d{1,4})\))?\s*$")
        .expect("a valid pattern");
    let found = pattern.captures(text)?;
    let name = found["name"].split_whitespace().collect::<Vec<_>>().join(" ");
    let initials = name.split(' ').filter_map(|word| word.chars().next()).collect();
    let born = found.name("born").and_then(|year| year.as_str().parse().ok());
    Some(Person { name, initials, born })
}

fn main() {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let person = match parse(&text) {
        Some(person) => person,
        None => {
            eprintln!("expected a name, maybe followed by a year in parentheses: {text:?}");
            std::process::exit(2);
        }
    };
    let json = serde_json::to_string(&person).expect("a person serializes");
    let read_back: Person = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(read_back, person);
    println!("{json}");
}
