//! Pre-encoded remote_write 1.0 requests: protobuf `prometheus.WriteRequest`,
//! snappy block-compressed, one sample per series as Prometheus' shards send them.
//!
//! The load is cut into a grid: `rows` of `samples_per_series` consecutive
//! scrapes (one scrape per row by default) × `chunks` of `batch_series`
//! consecutive series. Everything is encoded before the clock starts (unless
//! streamed), so the measured rate is the server's, not the encoder's.

use bytes::Bytes;
use prost::Message;
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

use crate::generator::{self, SCRAPE_INTERVAL_MS};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// How many series each scrape carries.
    pub series: usize,
    /// How many scrapes, `SCRAPE_INTERVAL_MS` apart.
    pub steps: u64,
    /// Series per request; the last request of a scrape may hold fewer.
    pub batch_series: usize,
    /// Consecutive scrapes of each series per request (1 as Prometheus' shards
    /// send live data; more for a backfill, which every receiver takes faster).
    pub samples_per_series: u64,
    /// Timestamp of the first scrape, in milliseconds since the Unix epoch.
    pub start_ms: i64,
}

impl Shape {
    /// Requests per scrape.
    pub fn chunks(&self) -> usize {
        self.series.div_ceil(self.batch_series.max(1))
    }

    /// Rows of the grid: requests of one chunk of series, in time order.
    pub fn rows(&self) -> u64 {
        self.steps.div_ceil(self.samples_per_series.max(1))
    }

    /// Samples in the whole run.
    pub fn samples(&self) -> u64 {
        self.series as u64 * self.steps
    }

    /// Timestamp of `step`, in milliseconds since the Unix epoch.
    pub fn timestamp(&self, step: u64) -> i64 {
        self.start_ms + step as i64 * SCRAPE_INTERVAL_MS
    }
}

/// One encoded request body.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Which row of scrapes it belongs to.
    pub row: u64,
    /// Which run of `batch_series` series it holds.
    pub chunk: usize,
    /// Samples in the body.
    pub samples: u64,
    /// The snappy-compressed `WriteRequest`.
    pub body: Bytes,
}

/// Encodes the request for `chunk` at `row`.
pub fn encode(shape: &Shape, row: u64, chunk: usize) -> Batch {
    let first = chunk * shape.batch_series;
    let last = (first + shape.batch_series).min(shape.series);
    let per_series = shape.samples_per_series.max(1);
    let steps = row * per_series..((row + 1) * per_series).min(shape.steps);
    let timeseries = (first..last)
        .map(|i| TimeSeries {
            labels: generator::labels(i)
                .into_iter()
                .map(|(name, value)| Label { name: name.to_owned(), value })
                .collect(),
            samples: steps
                .clone()
                .map(|step| Sample { value: generator::value(i, step), timestamp: shape.timestamp(step) })
                .collect(),
            ..Default::default()
        })
        .collect();
    let request = WriteRequest { timeseries, metadata: Vec::new() };
    let body = snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("snappy compresses any input below 4 GiB, and one request is far smaller");
    Batch { row, chunk, samples: (last - first) as u64 * (steps.end - steps.start), body: Bytes::from(body) }
}

/// Encodes every request of the run on `threads` threads, indexed `[row][chunk]`.
pub fn encode_all(shape: &Shape, threads: usize) -> Vec<Vec<Batch>> {
    let chunks = shape.chunks();
    let cells: Vec<(u64, usize)> = (0..shape.rows()).flat_map(|s| (0..chunks).map(move |c| (s, c))).collect();
    let per_thread = cells.len().div_ceil(threads.max(1)).max(1);
    let encoded: Vec<Batch> = std::thread::scope(|scope| {
        let handles: Vec<_> = cells
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().map(|&(s, c)| encode(shape, s, c)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("an encoder thread panicked")).collect()
    });
    let mut grid: Vec<Vec<Batch>> = (0..shape.rows()).map(|_| Vec::with_capacity(chunks)).collect();
    for batch in encoded {
        grid[batch.row as usize].push(batch);
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape =
        Shape { series: 250, steps: 3, batch_series: 100, samples_per_series: 1, start_ms: 1_700_000_000_000 };

    #[test]
    fn grid_covers_every_sample_once() {
        let grid = encode_all(&SHAPE, 2);
        assert_eq!(grid.len(), 3);
        for (step, row) in grid.iter().enumerate() {
            let chunks: Vec<usize> = row.iter().map(|b| b.chunk).collect();
            assert_eq!(chunks, [0, 1, 2]);
            assert!(row.iter().all(|b| b.row == step as u64));
            assert_eq!(row.iter().map(|b| b.samples).sum::<u64>(), 250);
        }
    }

    #[test]
    fn encoding_is_deterministic_and_decodable() {
        let a = encode(&SHAPE, 1, 2);
        let b = encode(&SHAPE, 1, 2);
        assert_eq!(a.body, b.body);
        let raw = snap::raw::Decoder::new().decompress_vec(&a.body).unwrap();
        let request = WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(request.timeseries.len(), 50);
        let first = &request.timeseries[0];
        assert_eq!(first.samples, [Sample { value: generator::value(200, 1), timestamp: SHAPE.timestamp(1) }]);
        assert_eq!(first.labels[0].name, "__name__");
        assert!(first.labels.iter().any(|l| l.name == "instance" && l.value == "host-00002:9100"));
    }

    #[test]
    fn rows_of_several_scrapes_hold_each_series_in_time_order() {
        let shape = Shape { samples_per_series: 2, ..SHAPE };
        assert_eq!(shape.rows(), 2);
        let grid = encode_all(&shape, 2);
        assert_eq!(grid.iter().flatten().map(|b| b.samples).sum::<u64>(), 750);
        let last = &grid[1][2];
        assert_eq!(last.samples, 50, "the last row holds the one scrape left");
        let raw = snap::raw::Decoder::new().decompress_vec(&grid[0][1].body).unwrap();
        let request = WriteRequest::decode(raw.as_slice()).unwrap();
        let expected: Vec<Sample> =
            (0..2).map(|s| Sample { value: generator::value(100, s), timestamp: shape.timestamp(s) }).collect();
        assert_eq!(request.timeseries[0].samples, expected);
    }
}
