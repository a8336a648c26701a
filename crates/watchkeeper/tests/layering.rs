//! The crate floors of `../shared/DESIGN.md` section 3 stay true: every workspace crate
//! depends (for its normal build) only on workspace crates of lower floors.

use std::process::Command;

fn floor(crate_name: &str) -> Option<u8> {
    Some(match crate_name {
        "wk-model" => 0,
        "wk-config" | "wk-storage" | "wk-wal" | "wk-ingest" => 1,
        "wk-promql" | "wk-logql" | "wk-tsdb" | "wk-logs" | "wk-meta" => 2,
        "wk-collect" | "wk-rules" | "wk-alerting" | "wk-notify" => 3,
        "wk-api" | "wk-ui" | "wk-agent" => 4,
        "wk-server" => 5,
        "watchkeeper" | "wk-bench" => 6,
        _ => return None,
    })
}

#[test]
fn dependencies_point_only_downward() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut violations = Vec::new();
    let mut seen = 0;
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let own = floor(name).unwrap_or_else(|| panic!("crate {name} has no floor: add it to DESIGN.md and here"));
        seen += 1;
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let normal = dep["kind"].is_null();
            if let (true, Some(dep_floor)) = (normal, floor(dep_name))
                && dep_floor >= own
            {
                violations.push(format!("{name} (floor {own}) -> {dep_name} (floor {dep_floor})"));
            }
        }
    }
    assert!(seen >= 2, "workspace crates not found");
    assert!(violations.is_empty(), "dependencies that do not point downward:\n{}", violations.join("\n"));
}
