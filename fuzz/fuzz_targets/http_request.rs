#![no_main]
//! The `http_request` fuzz target: see docs/reliability.md and src/fuzzing/.

use std::sync::LazyLock;

static RUN: LazyLock<fn(&[u8])> = LazyLock::new(|| backup_exporter::fuzzing::target("http_request"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| RUN(data));
