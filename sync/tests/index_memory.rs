//! `for_each_index_entry` must stream: memory stays flat however many rows the
//! store holds. This binary has a single test so that the counting allocator
//! sees nothing else.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use store::{Batch, IndicatorRow};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ROWS: usize = 100_000;
const MIB: usize = 1024 * 1024;

#[test]
fn index_entries_stream_100k_rows_in_bounded_memory() {
    let (_dir, mut store) = temp_store();
    let description = "x".repeat(300);
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(10_000) {
        let rows: Vec<IndicatorRow> = chunk
            .iter()
            .map(|&i| {
                let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
                let mut row = ipv4_indicator(&format!("indicator-{i:08}"), &ip);
                row.description = Some(description.clone());
                row.name = format!("{description} {i}");
                row.labels = vec!["c2".into(), "botnet".into()];
                row
            })
            .collect();
        store
            .apply(
                "big",
                "opencti",
                Batch {
                    indicators: rows,
                    ..Default::default()
                },
            )
            .unwrap();
    }

    // SAFETY: plain reads of SQLite's global memory counters.
    unsafe { rusqlite::ffi::sqlite3_memory_highwater(1) };
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut bytes_seen = 0usize;
    let n = store
        .for_each_index_entry(&mut |e| {
            bytes_seen += e.record.name.len() + e.record.id.len() + e.keys[0].key.len();
            Ok(())
        })
        .unwrap();
    let rust_peak = PEAK.load(Ordering::Relaxed) - base;
    let sqlite_peak = unsafe { rusqlite::ffi::sqlite3_memory_highwater(0) } as usize;

    eprintln!(
        "rust peak {} KiB, sqlite peak {} KiB",
        rust_peak / 1024,
        sqlite_peak / 1024
    );
    assert_eq!(n as usize, ROWS);
    // Holding the entries would take more than the text alone (> 30 MiB).
    assert!(bytes_seen > 30 * MIB, "{bytes_seen}");
    assert!(
        rust_peak < 4 * MIB,
        "Rust heap grew by {} KiB",
        rust_peak / 1024
    );
    assert!(
        sqlite_peak < 16 * MIB,
        "SQLite used up to {} KiB",
        sqlite_peak / 1024
    );
}
