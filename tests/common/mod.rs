//! Helpers shared by several integration tests.
#![allow(dead_code)] // each test file uses a part

pub mod bytes;
pub mod disasm;
pub mod generated;
pub mod golden;
pub mod janet;
pub mod runner;
pub mod suite;
