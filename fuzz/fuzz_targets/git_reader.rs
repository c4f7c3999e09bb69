//! Fuzz target: the gate's git reader on generated repositories (files,
//! folders and symbolic links under `p/`, committed, then read as the
//! `git:HEAD` baseline) (`privsim_testkit::properties::check_git_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    privsim_testkit::properties::check_git_reader(data);
});
