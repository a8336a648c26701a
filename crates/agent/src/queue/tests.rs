use super::*;
use crate::record::series;

fn batch(t: i64, n: usize) -> (Vec<u8>, u64) {
    let names: Vec<String> = (0..n).map(|i| format!("metric_{i}")).collect();
    let series: Vec<TimeSeries> =
        names.iter().map(|name| series(&[("__name__", name), ("job", "test")], &[(t, t as f64)])).collect();
    (record::encode(series), n as u64)
}

fn timestamps(read: &ReadBatch) -> Vec<i64> {
    let mut ts: Vec<i64> = read.series.iter().flat_map(|s| s.samples.iter().map(|x| x.timestamp)).collect();
    ts.dedup();
    ts
}

#[test]
fn reads_in_order_and_resumes_after_reopen_from_the_acked_position() {
    let dir = tempfile::tempdir().unwrap();
    let queue = DiskQueue::open("q", dir.path(), 1 << 30).unwrap();
    for t in 1..=10 {
        let (rec, n) = batch(t, 3);
        queue.append(&rec, n).unwrap();
    }
    let first = queue.read(queue.start(), 12).unwrap();
    assert_eq!(first.samples, 12);
    assert_eq!(timestamps(&first), [1, 2, 3, 4]);
    queue.ack(first.end, first.samples).unwrap();
    assert_eq!(queue.metrics().pending_samples.load(Ordering::Relaxed), 18);
    drop(queue);

    let queue = DiskQueue::open("q", dir.path(), 1 << 30).unwrap();
    assert_eq!(queue.metrics().pending_samples.load(Ordering::Relaxed), 18, "backlog counted at open");
    let rest = queue.read(queue.start(), 1000).unwrap();
    assert_eq!(timestamps(&rest), [5, 6, 7, 8, 9, 10]);
    // Appends after reopen go to a new segment; the reader crosses over to it.
    let (rec, n) = batch(11, 3);
    queue.append(&rec, n).unwrap();
    let more = queue.read(rest.end, 1000).unwrap();
    assert_eq!(timestamps(&more), [11]);
    queue.ack(more.end, rest.samples + more.samples).unwrap();
    assert_eq!(queue.metrics().pending_samples.load(Ordering::Relaxed), 0);
    assert_eq!(queue.metrics().segments.load(Ordering::Relaxed), 1, "delivered segments deleted");
}

#[test]
fn bound_drops_the_oldest_unsent_data_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let max = 64 << 10;
    let queue = DiskQueue::open("q", dir.path(), max).unwrap();
    let mut appended = 0;
    for t in 1..=400 {
        let (rec, n) = batch(t, 20);
        queue.append(&rec, n).unwrap();
        appended += n;
        assert!(queue.disk_bytes() <= max, "queue holds {} bytes, bound {max}", queue.disk_bytes());
        let on_disk: u64 = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert!(on_disk <= max + 1024, "directory holds {on_disk} bytes");
    }
    let m = queue.metrics();
    let dropped = m.samples_dropped.load(Ordering::Relaxed);
    assert!(dropped > 0, "nothing dropped");
    let rest = queue.read(queue.start(), u64::MAX).unwrap();
    assert_eq!(rest.samples + dropped, appended, "every sample is either still queued or counted as dropped");
    let ts = timestamps(&rest);
    assert_eq!(*ts.last().unwrap(), 400, "the newest data is kept");
    assert!(ts.windows(2).all(|w| w[1] == w[0] + 1), "what is kept is a contiguous newest range");
    assert_eq!(m.pending_samples.load(Ordering::Relaxed), rest.samples);
}

#[test]
fn damaged_position_file_resends_from_the_oldest_segment() {
    let dir = tempfile::tempdir().unwrap();
    let queue = DiskQueue::open("q", dir.path(), 1 << 30).unwrap();
    let (rec, n) = batch(1, 2);
    queue.append(&rec, n).unwrap();
    let all = queue.read(queue.start(), 100).unwrap();
    queue.ack(all.end, all.samples).unwrap();
    drop(queue);
    std::fs::write(dir.path().join(position::FILE_NAME), b"garbage").unwrap();
    let queue = DiskQueue::open("q", dir.path(), 1 << 30).unwrap();
    assert_eq!(timestamps(&queue.read(queue.start(), 100).unwrap()), [1]);
}

#[test]
fn damaged_record_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let queue = DiskQueue::open("q", dir.path(), 1 << 30).unwrap();
    queue.append(b"\x07not a record", 5).unwrap();
    let (rec, n) = batch(2, 1);
    queue.append(&rec, n).unwrap();
    let read = queue.read(queue.start(), 100).unwrap();
    assert_eq!(timestamps(&read), [2]);
    assert_eq!(queue.metrics().corrupt_records.load(Ordering::Relaxed), 1);
}
