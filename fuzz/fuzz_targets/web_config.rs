#![no_main]
//! The `web_config` fuzz target: see docs/reliability.md and src/fuzzing/.

use std::sync::LazyLock;

static RUN: LazyLock<fn(&[u8])> = LazyLock::new(|| backup_exporter::fuzzing::target("web_config"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| RUN(data));
