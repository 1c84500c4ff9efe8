fn main() {
    let name = common::first_arg("world");
    println!("{}", common::greeting(&name));
}
