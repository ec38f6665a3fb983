//! Read-back rate of behaviour events as a trainer sees them: streams every event of one app group of an
//! existing data directory and prints events per second.
//!
//! `cargo bench -p algocenter-store --bench read_back -- DATA_DIR APP` (the server must be stopped: one process
//! per data directory).

use std::time::Instant;

use algocenter_store::EventStore;
use algocenter_store::sqlite::{SqliteStore, Synchronous};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [dir, app] = args.as_slice() else {
        eprintln!("usage: read_back DATA_DIR APP");
        std::process::exit(2);
    };
    let store = match SqliteStore::open(std::path::Path::new(dir), 1, Synchronous::Normal) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("cannot open {dir}: {e}");
            std::process::exit(1);
        }
    };
    let data = match store.training_data(app) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for round in 1..=3 {
        let started = Instant::now();
        let (mut events, mut bytes) = (0u64, 0usize);
        let scanned = data.for_each_event(0, i64::MAX, &mut |e| {
            events += 1;
            bytes += e.item_id.len();
            Ok(())
        });
        if let Err(e) = scanned {
            eprintln!("scan failed: {e}");
            std::process::exit(1);
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "round {round}: {events} events in {seconds:.2} s = {:.0} events/s (checksum {bytes})",
            events as f64 / seconds
        );
    }
}
