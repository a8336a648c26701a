//! Records the compiler version and the git revision for `watchkeeper_build_info`.
//! Both are optional: a build from a source tarball without git says `unknown`.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    if let Some(version) = output(&rustc, &["--version"]) {
        // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
        let version = version.split_whitespace().nth(1).unwrap_or("unknown").to_owned();
        println!("cargo:rustc-env=WATCHKEEPER_RUSTC_VERSION={version}");
    }
    if let Some(revision) = output("git", &["rev-parse", "--short=12", "HEAD"]) {
        println!("cargo:rustc-env=WATCHKEEPER_REVISION={revision}");
    }
    if let Some(git_dir) = output("git", &["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/refs/heads");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}
