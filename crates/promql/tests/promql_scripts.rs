//! Runs Prometheus's PromQL test scripts (`../shared/testdata/promql/*.test`)
//! against wk-promql over a wk-tsdb head.
//!
//! Every `eval` is passed, failed or unsupported (native histograms,
//! `load_with_nhcb`, syntax `promql-parser` lacks, features not implemented yet).
//! The test fails when a case fails that is not listed in
//! `testdata/known_failures.txt`, or when a listed case passes (so the list only
//! shrinks). Environment:
//! - `WK_PROMQL_REPORT=path` writes the compatibility table (Markdown) to `path`.
//! - `WK_PROMQL_BLESS=1` rewrites `known_failures.txt` from the current failures.
//! - `WK_PROMQL_VERBOSE=1` prints every failure with its reason.

#[path = "support/runner.rs"]
mod runner;
#[path = "support/script.rs"]
mod script;
#[path = "support/series_desc.rs"]
mod series_desc;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use runner::Outcome;

const SCRIPTS: &str = "../../../shared/testdata/promql";
const KNOWN: &str = "testdata/known_failures.txt";

#[derive(Debug, Default)]
struct FileStats {
    passed: usize,
    failed: usize,
    unsupported: usize,
}

fn read_known(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(' ') {
            Some((k, r)) => (k.to_owned(), r.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

#[test]
fn promql_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPTS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let known_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(KNOWN);
    let known = read_known(&known_path);
    let verbose = std::env::var_os("WK_PROMQL_VERBOSE").is_some();
    let mut stats: BTreeMap<String, FileStats> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut problems: Vec<String> = Vec::new();
    let mut seen_known: BTreeSet<String> = BTreeSet::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let cmds = script::parse_script(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let st = stats.entry(name.clone()).or_default();
        for (line, query, outcome) in runner::run_script(&cmds) {
            let key = format!("{name}:{line}");
            match outcome {
                Outcome::Pass => {
                    st.passed += 1;
                    if known.contains_key(&key) {
                        seen_known.insert(key.clone());
                        problems.push(format!("{key} passes now; remove it from {KNOWN}"));
                    }
                }
                Outcome::Fail(why) => {
                    st.failed += 1;
                    if verbose {
                        eprintln!("FAIL {key} {query}\n     {why}");
                    }
                    if known.contains_key(&key) {
                        seen_known.insert(key.clone());
                    } else {
                        problems.push(format!("{key} fails: {query}: {why}"));
                    }
                    failures.insert(key, one_line(&why));
                }
                Outcome::Unsupported(feature) => {
                    if std::env::var_os("WK_PROMQL_VERBOSE_UNSUPPORTED").is_some() {
                        eprintln!("UNSUPPORTED {key} {query}\n     {feature}");
                    }
                    st.unsupported += 1;
                    *unsupported.entry(feature).or_default() += 1;
                    if known.contains_key(&key) {
                        seen_known.insert(key.clone());
                    }
                }
            }
        }
    }
    for k in known.keys() {
        if !seen_known.contains(k) && !failures.contains_key(k) {
            problems.push(format!("{k} is listed in {KNOWN} but is not a failing case"));
        }
    }
    let table = report(&stats, &unsupported);
    println!("{table}");
    if let Some(path) = std::env::var_os("WK_PROMQL_REPORT") {
        std::fs::write(&path, &table).expect("writing the report");
    }
    if std::env::var_os("WK_PROMQL_BLESS").is_some() {
        let mut out = String::from(
            "# Known failing float cases of the upstream PromQL scripts: `file:line reason`.\n\
             # The runner fails when one of these passes, so this list can only shrink.\n\
             # Regenerate with WK_PROMQL_BLESS=1 and review the diff.\n",
        );
        for (k, why) in &failures {
            out.push_str(&format!("{k} {why}\n"));
        }
        std::fs::write(&known_path, out).expect("writing known failures");
        return;
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

fn one_line(s: &str) -> String {
    let s: String = s.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    s.chars().take(160).collect()
}

const REPORT_HEADER: &str = "# PromQL compatibility of wk-promql

Generated by the upstream-script runner (`crates/promql/tests/promql_scripts.rs`);
do not edit by hand. Regenerate from the repository root with:

```sh
WK_PROMQL_REPORT=$PWD/docs/promql-compat.md nice -n 10 cargo test -j1 -p wk-promql --test promql_scripts
```

The scripts are Prometheus's own PromQL engine tests
(`../shared/testdata/promql/*.test`, Prometheus 3.x main branch), loaded into a
`wk-tsdb` head. Every `eval` counts once:

- **passed**: the result, the expected error and the expected annotations match
  (floats compared with Prometheus's relative tolerance of 1e-6), and an instant
  query gives the same result when run as a one-step range query;
- **failed**: it ran and did not match; such cases must be listed in
  `crates/promql/testdata/known_failures.txt`, or the test fails (and a listed case
  that passes fails the test too, so the list only shrinks);
- **unsupported**: it needs something we do not have, named in the second table:
  native histograms (`{{...}}` samples, and the native histograms that
  `load_with_nhcb` derives from classic ones: queries that select them), start
  timestamps (`@st`), or syntax `promql-parser` 0.11 cannot parse.

One deviation is deliberate: `promql-parser` does not track positions, so the
` (line:col)` suffix of expected annotation and error messages is not compared.

";

fn report(stats: &BTreeMap<String, FileStats>, unsupported: &BTreeMap<String, usize>) -> String {
    let mut out = String::from(REPORT_HEADER);
    out.push_str("## Results per file\n\n");
    out.push_str("| file | passed | failed | unsupported | total |\n|---|---:|---:|---:|---:|\n");
    let mut tot = FileStats::default();
    for (name, s) in stats {
        let total = s.passed + s.failed + s.unsupported;
        out.push_str(&format!("| {name} | {} | {} | {} | {total} |\n", s.passed, s.failed, s.unsupported));
        tot.passed += s.passed;
        tot.failed += s.failed;
        tot.unsupported += s.unsupported;
    }
    out.push_str(&format!(
        "| **total** | **{}** | **{}** | **{}** | **{}** |\n\n",
        tot.passed,
        tot.failed,
        tot.unsupported,
        tot.passed + tot.failed + tot.unsupported
    ));
    out.push_str("## Unsupported features\n\n| unsupported feature | cases |\n|---|---:|\n");
    let mut u: Vec<_> = unsupported.iter().collect();
    u.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (f, n) in u {
        out.push_str(&format!("| {} | {n} |\n", f.replace('|', "\\|")));
    }
    out
}
