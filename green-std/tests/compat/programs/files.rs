// File copy and read_dir: 20 threads each write a file and copy it; the
// main thread lists the directory and reads everything back.

use sys::fs;
use sys::io::{Read, Write};
use sys::thread;

pub fn main() -> String {
    let dir = std::env::temp_dir().join(format!(
        "green-compat-files-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    fs::create_dir_all(&dir).unwrap();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let dir = dir.clone();
            thread::spawn(move || {
                let _t = crate::probe::task();
                let path = dir.join(format!("file{i:02}.txt"));
                let mut f = fs::File::create(&path).unwrap();
                writeln!(f, "line from {i}").unwrap();
                drop(f);
                fs::copy(&path, dir.join(format!("copy{i:02}.txt"))).unwrap()
            })
        })
        .collect();
    let copied: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut contents = String::new();
    for name in names.iter().filter(|n| n.starts_with("copy")) {
        fs::File::open(dir.join(name)).unwrap().read_to_string(&mut contents).unwrap();
    }
    fs::remove_dir_all(&dir).unwrap();
    format!("{} entries, {copied} bytes copied, {}", names.len(), contents.lines().count())
}
