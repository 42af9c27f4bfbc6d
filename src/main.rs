fn main() {
    println!("intelmatch: under construction");
}
