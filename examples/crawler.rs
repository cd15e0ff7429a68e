//! gevent's concurrent fetcher: many URLs, at most N at once, results as
//! they come, on one OS thread.
//!
//! ```text
//! cargo run --example crawler                       # a local demo site, 50 slow pages
//! cargo run --example crawler -- --concurrency 25
//! cargo run --example crawler -- --urls http://127.0.0.1:8080/,http://127.0.0.1:8080/static/index.html
//! cargo run --example crawler -- --urls urls.txt --depth 1
//! ```
//!
//! Without `--urls`, it starts a demo site in the same process (its pages
//! take `--delay-ms` to answer) and crawls it from its index page, one
//! link deep, so that it fetches the index and then `--pages` pages,
//! `--concurrency` at a time. It prints each fetch as it completes, the
//! total time, and the most fetches in flight at once (in the crawler,
//! and as the site saw them).
//!
//! `--urls` takes a file of URLs (one per line, `#` comments) or a comma
//! separated list; `--depth D` follows links on the same host and port up
//! to D links away (default 0 with `--urls`, 1 for the demo site).
//!
//! The crawler is `green_examples::crawler`: `Pool::imap_unordered` over
//! a blocking-style HTTP/1.1 client.

use std::time::Duration;

use green_examples::crawler::{self, DemoSite, Options, Url};

const USAGE: &str = "usage: crawler [--concurrency N] [--urls FILE|URL,URL...] [--depth D] \
                     [--pages N] [--delay-ms MS] [--timeout-ms MS]";

fn main() {
    let mut concurrency = 10;
    let mut urls: Option<String> = None;
    let mut depth: Option<usize> = None;
    let mut pages = 50;
    let mut delay = Duration::from_millis(100);
    let mut timeout = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        let number = value.parse::<usize>().ok();
        match (flag.as_str(), number) {
            ("--concurrency", Some(n)) if n > 0 => concurrency = n,
            ("--urls", _) if !value.is_empty() => urls = Some(value),
            ("--depth", Some(n)) => depth = Some(n),
            ("--pages", Some(n)) if n > 0 => pages = n,
            ("--delay-ms", Some(n)) => delay = Duration::from_millis(n as u64),
            ("--timeout-ms", Some(n)) if n > 0 => timeout = Duration::from_millis(n as u64),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let seeds = urls.map(|list| {
        seed_urls(&list).unwrap_or_else(|e| {
            eprintln!("crawler: {e}");
            std::process::exit(2);
        })
    });

    green::run(|| {
        let (site, seeds, depth) = match seeds {
            Some(seeds) => (None, seeds, depth.unwrap_or(0)),
            None => {
                let site = DemoSite::start(pages, delay).unwrap_or_else(|e| {
                    eprintln!("crawler: cannot start the demo site: {e}");
                    std::process::exit(1);
                });
                println!(
                    "demo site at http://{}/: {pages} pages, {} ms each",
                    site.addr(),
                    delay.as_millis()
                );
                let index = site.index();
                (Some(site), vec![index], depth.unwrap_or(1))
            }
        };
        let options = Options {
            concurrency,
            depth,
            timeout,
        };
        println!(
            "crawling {} URL(s), {} link(s) deep, {concurrency} at a time",
            seeds.len(),
            depth
        );
        let summary = crawler::crawl(seeds, &options, |fetch| match &fetch.result {
            Ok(r) => println!(
                "{} {:>7} B {:>5} ms  {}",
                r.status,
                r.body.len(),
                fetch.elapsed.as_millis(),
                fetch.url
            ),
            Err(e) => println!(
                "ERR {:>15} ms  {}  ({e})",
                fetch.elapsed.as_millis(),
                fetch.url
            ),
        });
        println!("{summary}");
        match &site {
            Some(site) => println!(
                "max concurrency: {} in the crawler, {} at the site (cap {concurrency})",
                summary.peak,
                site.peak()
            ),
            None => println!("max concurrency: {} (cap {concurrency})", summary.peak),
        }
        if summary.failed > 0 {
            std::process::exit(1);
        }
    });
}

/// The URLs of `--urls`: a file's lines, or a comma separated list.
fn seed_urls(list: &str) -> std::io::Result<Vec<Url>> {
    let text = match std::fs::read_to_string(list) {
        Ok(text) => text,
        Err(_) if list.starts_with("http://") => list.replace(',', "\n"),
        Err(e) => return Err(e),
    };
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(Url::parse)
        .collect()
}
