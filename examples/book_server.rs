//! The final web server of *The Rust Programming Language*, chapter 20,
//! on green: `book_server_std.rs` with `std::` replaced by `green_std::` in
//! the `use` lines and `main`'s body wrapped in `green::run(|| { ... })`.
//! Nothing else changes (`tests/book_server.rs` diffs the two files).
//!
//! ```text
//! cargo run --release --example book_server -- --workers 100
//! ```
//!
//! Each "thread" of the book's `ThreadPool` is now a greenlet, its `mpsc`
//! channel and `Mutex` park the greenlet instead of the thread, and
//! `thread::sleep` lets the other workers run: the whole server, workers
//! included, runs on one OS thread (`fs::read_to_string` goes through
//! green's small blocking pool). A worker is a greenlet, not an OS thread,
//! so `--workers 100` is cheap: 100 concurrent `GET /sleep` requests take
//! about one sleep instead of 25 with the book's 4 workers. The worker
//! count stays the book's 4 by default: the pool caps concurrency on green
//! as on std.
//!
//! Flags and the other changes to the book's program are described in
//! `book_server_std.rs`.

use hello::ThreadPool;

use green_std::{
    env, fs,
    io::{prelude::*, BufReader},
    net::{TcpListener, TcpStream},
    process, thread,
    time::Duration,
};

/// Where `hello.html` and `404.html` are.
const HTML_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/book");

fn main() {
    green::run(|| {
        let args = Args::parse();
        let listener = TcpListener::bind(&args.addr).unwrap();
        let pool = ThreadPool::new(args.workers);
        let addr = listener.local_addr().unwrap();
        println!("Listening on http://{addr}/ with {} workers", args.workers);

        for stream in listener.incoming().take(args.requests) {
            let stream = stream.unwrap();
            let sleep = args.sleep;

            pool.execute(move || {
                handle_connection(stream, sleep);
            });
        }

        println!("Shutting down.");
    });
}

fn handle_connection(mut stream: TcpStream, sleep: Duration) {
    let buf_reader = BufReader::new(&stream);
    let request_line = buf_reader.lines().next().unwrap().unwrap();

    let (status_line, filename) = match &request_line[..] {
        "GET / HTTP/1.1" => ("HTTP/1.1 200 OK", "hello.html"),
        "GET /sleep HTTP/1.1" => {
            thread::sleep(sleep);
            ("HTTP/1.1 200 OK", "hello.html")
        }
        _ => ("HTTP/1.1 404 NOT FOUND", "404.html"),
    };

    let contents = fs::read_to_string(format!("{HTML_DIR}/{filename}")).unwrap();
    let length = contents.len();

    let response = format!("{status_line}\r\nContent-Length: {length}\r\n\r\n{contents}");

    stream.write_all(response.as_bytes()).unwrap();
}

/// The book's constants, as flags.
struct Args {
    /// Where to listen (`--addr`, the book's 127.0.0.1:7878).
    addr: String,
    /// The pool size (`--workers`, the book's 4).
    workers: usize,
    /// How long `GET /sleep` sleeps (`--sleep-ms`, the book's 5 seconds).
    sleep: Duration,
    /// Connections served before shutting down (`--requests`, no limit).
    requests: usize,
}

impl Args {
    /// Parses the command line, or exits with a usage message.
    fn parse() -> Args {
        let mut args = Args {
            addr: "127.0.0.1:7878".to_string(),
            workers: 4,
            sleep: Duration::from_secs(5),
            requests: usize::MAX,
        };
        let mut argv = env::args().skip(1);
        while let Some(flag) = argv.next() {
            let value = argv.next().unwrap_or_default();
            let number = value.parse::<usize>().ok();
            match (flag.as_str(), number) {
                ("--addr", _) if !value.is_empty() => args.addr = value,
                ("--workers", Some(n)) if n > 0 => args.workers = n,
                ("--sleep-ms", Some(n)) => args.sleep = Duration::from_millis(n as u64),
                ("--requests", Some(n)) => args.requests = n,
                _ => {
                    eprintln!(
                        "usage: [--addr HOST:PORT] [--workers N] [--sleep-ms MS] [--requests N]"
                    );
                    process::exit(2);
                }
            }
        }
        args
    }
}

/// The book's `src/lib.rs` (crate `hello`).
mod hello {
    use green_std::{
        sync::{mpsc, Arc, Mutex},
        thread,
    };

    /// A fixed set of worker threads that run the jobs given to
    /// [`execute`](ThreadPool::execute), one at a time each.
    pub struct ThreadPool {
        workers: Vec<Worker>,
        sender: Option<mpsc::Sender<Job>>,
    }

    type Job = Box<dyn FnOnce() + Send + 'static>;

    impl ThreadPool {
        /// Create a new ThreadPool.
        ///
        /// The size is the number of threads in the pool.
        ///
        /// # Panics
        ///
        /// The `new` function will panic if the size is zero.
        pub fn new(size: usize) -> ThreadPool {
            assert!(size > 0);

            let (sender, receiver) = mpsc::channel();

            let receiver = Arc::new(Mutex::new(receiver));

            let mut workers = Vec::with_capacity(size);

            for id in 0..size {
                workers.push(Worker::new(id, Arc::clone(&receiver)));
            }

            ThreadPool {
                workers,
                sender: Some(sender),
            }
        }

        /// Queues `f` for the next free worker.
        pub fn execute<F>(&self, f: F)
        where
            F: FnOnce() + Send + 'static,
        {
            let job = Box::new(f);

            self.sender.as_ref().unwrap().send(job).unwrap();
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take());

            for worker in &mut self.workers {
                println!("Shutting down worker {}", worker.id);

                if let Some(thread) = worker.thread.take() {
                    thread.join().unwrap();
                }
            }
        }
    }

    struct Worker {
        id: usize,
        thread: Option<thread::JoinHandle<()>>,
    }

    impl Worker {
        fn new(id: usize, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) -> Worker {
            let thread = thread::spawn(move || loop {
                let message = receiver.lock().unwrap().recv();

                match message {
                    Ok(job) => {
                        println!("Worker {id} got a job; executing.");

                        job();
                    }
                    Err(_) => {
                        println!("Worker {id} disconnected; shutting down.");
                        break;
                    }
                }
            });

            Worker {
                id,
                thread: Some(thread),
            }
        }
    }
}
