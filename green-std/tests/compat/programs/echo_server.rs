// A thread-per-connection echo server and 100 clients, each its own thread.

use sys::io::{BufRead, BufReader, Write};
use sys::net::{TcpListener, TcpStream};
use sys::sync::mpsc;
use sys::thread;

fn handle(stream: TcpStream) {
    let _t = crate::probe::task();
    let mut writer = stream.try_clone().unwrap();
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line.unwrap();
        writer.write_all(format!("echo: {line}\n").as_bytes()).unwrap();
    }
}

pub fn main() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            if done_rx.try_recv().is_ok() {
                break;
            }
            thread::spawn(move || handle(stream));
        }
    });

    let clients: Vec<_> = (0..100)
        .map(|i| {
            thread::spawn(move || {
                let _t = crate::probe::task();
                let mut stream = TcpStream::connect(addr).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut replies = Vec::new();
                for j in 0..3 {
                    writeln!(stream, "client {i} line {j}").unwrap();
                    let mut reply = String::new();
                    reader.read_line(&mut reply).unwrap();
                    replies.push(reply);
                }
                replies.concat()
            })
        })
        .collect();
    let mut out = String::new();
    for c in clients {
        out.push_str(&c.join().unwrap());
    }
    // Stop the server: flag it, then wake its accept with one connection.
    done_tx.send(()).unwrap();
    drop(TcpStream::connect(addr).unwrap());
    server.join().unwrap();
    out
}
