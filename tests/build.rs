//! Tells the end-to-end tests whether they are built by root. The tests of roles create real
//! Unix users (`useradd`), which only root can: built by anyone else they are marked ignored,
//! with that reason in the test list, instead of passing without testing anything. Built by
//! root (as CI is), they run, and a failure to create the users fails them.

use std::os::unix::fs::MetadataExt;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gatepass_tests_not_root)");
    println!("cargo::rerun-if-changed=build.rs");
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        println!("cargo::rustc-cfg=gatepass_tests_not_root");
    }
}
