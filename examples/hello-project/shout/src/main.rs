const BANNER: &str = include_str!("../../words/banner.txt");

fn main() {
    let name = common::first_arg("world");
    println!("{}", BANNER.trim());
    println!("{}", common::greeting(&name).to_uppercase());
}
